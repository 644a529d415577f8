from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from complaintdesk.core.sync.planner import plan_windows


def test_ninety_days_needs_four_windows_each_within_thirty_days() -> None:
    windows = plan_windows(today=date(2026, 11, 22), lookback_days=90, window_days=30, overlap_days=1)
    assert windows[0] == (date(2026, 10, 24), date(2026, 11, 22))
    assert windows[-1][0] == date(2026, 8, 24)
    assert len(windows) == 4
    for begin, end in windows:
        assert (end - begin).days <= 29


@given(
    lookback=st.integers(min_value=0, max_value=400),
    window=st.integers(min_value=1, max_value=40),
    overlap=st.integers(min_value=0, max_value=5),
)
def test_windows_cover_every_day_without_gaps(lookback: int, window: int, overlap: int) -> None:
    today = date(2026, 3, 1)
    windows = plan_windows(today=today, lookback_days=lookback, window_days=window, overlap_days=overlap)
    covered: set[date] = set()
    for begin, end in windows:
        assert begin <= end
        assert (end - begin).days < min(window, 30)
        covered.update(begin + timedelta(days=i) for i in range((end - begin).days + 1))
    expected = {today - timedelta(days=i) for i in range(lookback + 1)}
    assert expected <= covered
    assert min(covered) == today - timedelta(days=lookback)


def test_negative_lookback_is_refused() -> None:
    with pytest.raises(ValueError):
        plan_windows(today=date(2026, 1, 1), lookback_days=-1)
