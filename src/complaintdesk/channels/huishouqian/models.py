"""Tolerant typed views of the Huishouqian ``result`` documents (camelCase on the wire).

Parse with :meth:`HsModel.from_raw`: unknown fields are kept (``.raw``), optional fields whose value cannot
be understood fall back to their default and are listed in ``.drift``. Amounts are integers in fen;
``complaintTime``/``operateTime`` (``yyyyMMddHHmmss``, Asia/Shanghai) become aware UTC datetimes;
flags accept true, "true" and 1.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, ClassVar

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel

from complaintdesk.channels.common.models import TolerantModel

__all__ = [
    "CHINA_TZ",
    "CommitResult",
    "ComplaintRow",
    "DownloadResult",
    "HistoryImage",
    "HistoryPage",
    "HistoryRow",
    "HsModel",
    "QueryPage",
    "UploadResult",
    "parse_hs_time",
]

#: Asia/Shanghai has had no daylight saving since 1991: a fixed +08:00 needs no tz database.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
_COMPACT = re.compile(r"\d{14}")
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")


def parse_hs_time(value: Any) -> datetime:
    """Parse ``yyyyMMddHHmmss`` (also ``yyyy-MM-dd HH:mm:ss`` or ISO 8601); China time → aware UTC."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and _COMPACT.fullmatch(value.strip()):
        moment = datetime.strptime(value.strip(), "%Y%m%d%H%M%S")
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        for fmt in _FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            moment = datetime.fromisoformat(text)  # raises ValueError when it is not a time either
    else:
        raise ValueError("not a Huishouqian time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TZ)
    return moment.astimezone(UTC)


class HsModel(TolerantModel):
    """Base: camelCase aliases, unknown fields kept, numbers as strings accepted, bad optionals dropped."""

    model_config = ConfigDict(
        extra="allow", coerce_numbers_to_str=True, alias_generator=to_camel, populate_by_name=True
    )

    _lenient_errors: ClassVar[tuple[type[Exception], ...]] = (ValidationError, ValueError)


def _time(value: Any) -> Any:
    return None if value is None or value == "" else parse_hs_time(value)


#: A Huishouqian timestamp field (inside the lenient wrapper, so a bad value only drifts to None).
HsTime = Annotated[datetime | None, BeforeValidator(_time)]


def _rows(value: Any) -> Any:
    return [] if value is None else value


class ComplaintRow(HsModel):
    """One ``COMPLAINT_QUERY`` row."""

    complaint_id: str
    merchant_trade_no: str = ""
    amount: int | None = None  # fen
    complaint_state: str = ""
    complaint_time: HsTime = None
    problem_description: str = ""
    complaint_detail: str = ""
    user_complaint_times: int | None = None
    incoming_user_response: bool = False
    payer_openid: str | None = None
    merchant_no: str = ""
    agent_no: str = ""
    payer_phone: str | None = Field(default=None, repr=False)  # personal data: never logged
    complaint_full_refunded: bool = False

    @field_validator("incoming_user_response", "complaint_full_refunded", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        return False if value is None or value == "" else value


class QueryPage(HsModel):
    """The ``COMPLAINT_QUERY`` result: ``offset``, ``totalSize``, ``data[]``."""

    _strict_fields = frozenset({"data"})

    offset: int | None = None
    total_size: int | None = None
    data: list[ComplaintRow] = Field(default_factory=list)

    @field_validator("data", mode="before")
    @classmethod
    def _data(cls, value: Any) -> Any:
        return _rows(value)


class HistoryImage(HsModel):
    """One history image: a bare URL on the wire, or an object with ``mediaUrl`` (and ``mediaType``)."""

    media_url: str
    media_type: str = ""


class HistoryRow(HsModel):
    """One ``COMPLAINT_QUERY_HISTORY`` row."""

    log_id: str
    operator: str = ""
    operate_time: HsTime = None
    operate_type: str = ""
    operate_details: str = ""
    image_list: list[HistoryImage] = Field(default_factory=list)

    @field_validator("image_list", mode="before")
    @classmethod
    def _images(cls, value: Any) -> Any:
        items = [value] if isinstance(value, str | dict) else _rows(value)
        if not isinstance(items, list):
            return items
        out: list[dict[str, Any]] = []
        for item in items:  # items without a usable URL are dropped one by one, not the whole list
            if isinstance(item, str) and item.strip():
                out.append({"mediaUrl": item.strip()})
            elif isinstance(item, dict):
                url = item.get("mediaUrl", item.get("url"))
                if isinstance(url, str) and url.strip():
                    out.append({**item, "mediaUrl": url.strip()})
        return out


class HistoryPage(HsModel):
    """The ``COMPLAINT_QUERY_HISTORY`` result."""

    _strict_fields = frozenset({"data"})

    offset: int | None = None
    total_size: int | None = None
    data: list[HistoryRow] = Field(default_factory=list)

    @field_validator("data", mode="before")
    @classmethod
    def _data(cls, value: Any) -> Any:
        return _rows(value)


class CommitResult(HsModel):
    """The result of ``COMPLAINT_COMMIT_RESPONSE`` / ``COMPLAINT_COMMIT_COMPLETE``."""

    flag: bool | None = None
    resp_code: str = ""
    resp_desc: str = ""


class UploadResult(HsModel):
    """The result of ``COMPLAINT_FILE_UPLOAD`` (``fileId`` is a long upstream; kept as text)."""

    _strict_fields = frozenset({"file_id"})

    file_id: str

    @field_validator("file_id", mode="after")
    @classmethod
    def _nonempty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("fileId is empty")
        return value.strip()


class DownloadResult(HsModel):
    """The result of ``COMPLAINT_FILE_DOWNLOAD``: ``bytes`` (Base64) and ``suffix``."""

    _strict_fields = frozenset({"bytes_"})

    bytes_: str = Field(alias="bytes")
    suffix: str = ""
