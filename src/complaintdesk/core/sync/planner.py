"""Plan reconciliation windows: ≤ 30-day list windows with overlap, newest first."""

from __future__ import annotations

from datetime import date, timedelta

#: WeChat Pay's list API accepts at most 30 days between begin_date and end_date.
MAX_WINDOW_DAYS = 30


def plan_windows(
    *, today: date, lookback_days: int, window_days: int = MAX_WINDOW_DAYS, overlap_days: int = 1
) -> list[tuple[date, date]]:
    """Cover [today - lookback_days, today] with windows of at most ``window_days`` calendar days.

    Each window is inclusive on both ends and spans ``window_days`` dates at most (end − begin ≤
    window_days − 1), consecutive windows share ``overlap_days`` dates so that a complaint near a
    boundary (time zones, clock skew) is never missed.
    """
    if lookback_days < 0:
        raise ValueError("lookback_days must be ≥ 0")
    window_days = max(1, min(window_days, MAX_WINDOW_DAYS))
    overlap_days = max(0, min(overlap_days, window_days - 1))
    start = today - timedelta(days=lookback_days)
    windows: list[tuple[date, date]] = []
    end = today
    while True:
        begin = max(start, end - timedelta(days=window_days - 1))
        windows.append((begin, end))
        if begin <= start:
            return windows
        end = begin + timedelta(days=overlap_days - 1) if overlap_days else begin - timedelta(days=1)
