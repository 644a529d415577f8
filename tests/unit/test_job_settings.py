from __future__ import annotations

import pytest
from pydantic import ValidationError

from complaintdesk.settings import Settings


def test_a_lease_shorter_than_an_upstream_call_is_refused_with_both_figures() -> None:
    with pytest.raises(ValidationError, match=r"lease_seconds \(10\) must be longer .* 20 s"):
        Settings(jobs={"lease_seconds": 10})


def test_short_timeouts_allow_a_short_lease() -> None:
    fast = {"connect_timeout": 1.0, "read_timeout": 2.0}
    settings = Settings(jobs={"lease_seconds": 4}, wechatpay=fast, miniprogram=fast, huishouqian=fast)
    assert settings.jobs.lease_seconds == 4
