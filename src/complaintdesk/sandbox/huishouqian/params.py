"""Reading business parameters out of ``signContent`` (every problem is a ``GatewayError``).

Numbers may arrive as JSON numbers or digit strings (lenient, like fastjson); booleans are not numbers.
Date window rule (documented, ASSUMPTION): ``beginDate``/``endDate`` are ``yyyy-MM-dd`` and come together;
``endDate`` may not precede ``beginDate`` and may be at most ``max_span_days`` (30) days after it. Without
dates the window is the last 30 days ending today (Asia/Shanghai), except when ``complaintId`` or
``merchantTradeNo`` is given: then no date filter applies.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from complaintdesk.sandbox.huishouqian.codes import BAD_PARAMS, NO_COMPLAINT_ID, TOO_MANY_IMAGES, GatewayError

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def integer(params: dict[str, Any], name: str, default: int, low: int, high: int | None) -> int:
    """An optional integer within [low, high]."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    value = _number(raw)
    if value is None:
        raise GatewayError(BAD_PARAMS, f"{name}须为整数")
    if value < low or (high is not None and value > high):
        bound = f"[{low},{high}]" if high is not None else f"大于等于{low}"
        raise GatewayError(BAD_PARAMS, f"{name}取值范围{bound}")
    return value


def optional_integer(params: dict[str, Any], name: str) -> int | None:
    """An optional integer of any value (None when absent)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    value = _number(raw.lstrip("-") if isinstance(raw, str) else raw)
    if value is None:
        raise GatewayError(BAD_PARAMS, f"{name}须为整数")
    return -value if isinstance(raw, str) and raw.startswith("-") else value


def text(
    params: dict[str, Any], name: str, *, required: bool = False, max_chars: int | None = None
) -> str | None:
    """An optional (or required) non-blank string of at most ``max_chars`` characters."""
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise GatewayError(BAD_PARAMS, f"{name}不能为空")
        return None
    if not isinstance(raw, str):
        raise GatewayError(BAD_PARAMS, f"{name}须为字符串")
    if not raw.strip():
        raise GatewayError(BAD_PARAMS, f"{name}不能为空")
    if max_chars is not None and len(raw) > max_chars:
        raise GatewayError(BAD_PARAMS, f"{name}长度不能超过{max_chars}")
    return raw


def complaint_id(params: dict[str, Any]) -> str:
    """The required ``complaintId`` (``130010`` when missing)."""
    raw = params.get("complaintId")
    if raw is None or raw == "":
        raise GatewayError(NO_COMPLAINT_ID)
    value = text(params, "complaintId", max_chars=64)
    assert value is not None
    return value


def _date(params: dict[str, Any], name: str) -> date:
    raw = params.get(name)
    try:
        if not isinstance(raw, str) or not _DATE.fullmatch(raw):
            raise ValueError(name)
        return date.fromisoformat(raw)
    except ValueError:
        raise GatewayError(BAD_PARAMS, f"{name}格式须为yyyy-MM-dd") from None


def date_window(
    params: dict[str, Any], today: date, max_span_days: int, *, by_id: bool
) -> tuple[str, str] | None:
    """The inclusive ``(begin, end)`` ISO dates to filter on, or None for no date filter."""
    has_begin, has_end = params.get("beginDate") not in (None, ""), params.get("endDate") not in (None, "")
    if not has_begin and not has_end:
        if by_id:
            return None
        return (today - timedelta(days=max_span_days)).isoformat(), today.isoformat()
    if has_begin != has_end:
        raise GatewayError(BAD_PARAMS, "beginDate和endDate须同时传入")
    begin, end = _date(params, "beginDate"), _date(params, "endDate")
    if end < begin:
        raise GatewayError(BAD_PARAMS, "endDate不能早于beginDate")
    if (end - begin).days > max_span_days:
        raise GatewayError(BAD_PARAMS, f"查询时间跨度不能超过{max_span_days}天")
    return begin.isoformat(), end.isoformat()


def file_ids(params: dict[str, Any], name: str, max_images: int) -> list[int]:
    """An optional list of uploaded ``fileId`` values (numbers or digit strings); ``130009`` when too many."""
    raw = params.get(name)
    if raw is None or raw == "":
        return []
    if not isinstance(raw, list):
        raise GatewayError(BAD_PARAMS, f"{name}须为数组")
    if len(raw) > max_images:
        raise GatewayError(TOO_MANY_IMAGES)
    ids = [_number(item) for item in raw]
    if any(value is None for value in ids):
        raise GatewayError(BAD_PARAMS, f"{name}须为上传接口返回的fileId")
    return [value for value in ids if value is not None]
