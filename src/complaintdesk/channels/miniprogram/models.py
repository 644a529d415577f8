"""Tolerant typed views of ``complaintOrderDetail`` (new fields and unknown codes never break parsing).

Parse with :meth:`ComplaintDetail.from_raw`: it keeps the document (``.raw``) and records optional fields
whose value could not be understood and fell back to the default (``.drift``). Types follow the SDKs
rather than the doc where they disagree: ids and numbers may be strings, ``item`` is an array (a lone
object is accepted), ``openId`` / ``totalCostStr`` are accepted for ``openid`` / ``totalCost``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Self

from pydantic import (
    AliasChoices,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    field_validator,
    model_validator,
)

from complaintdesk.channels.common.models import TolerantModel as BaseTolerantModel

__all__ = [
    "ComplaintDetail",
    "ComplaintOrder",
    "CustomerMaterial",
    "Item",
    "ReturnBill",
    "TolerantModel",
    "UploadedMedia",
    "amount_fen",
    "from_unix",
]

_DECIMAL = re.compile(r"\d+\.\d{1,2}")


def from_unix(value: int | None) -> datetime | None:
    """Unix seconds as an aware UTC datetime (0, negative or absurd values mean none)."""
    if value is None or value <= 0 or value >= 10**11:
        return None
    return datetime.fromtimestamp(value, tz=UTC)


def amount_fen(value: str | None) -> int | None:
    """``totalCost`` in fen: digits are fen; a decimal like "12.50" is taken as yuan (unconfirmed)."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    if _DECIMAL.fullmatch(text):
        yuan, _, cents = text.partition(".")
        return int(yuan) * 100 + int(cents.ljust(2, "0"))
    return None


def _as_list(value: Any) -> Any:
    """Null → [], a lone item → [item], a comma-separated string → its parts."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, dict):
        return [value]
    return value


class TolerantModel(BaseTolerantModel):
    """Base: unknown fields kept, numbers accepted as strings and vice versa, bad optional values dropped."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, populate_by_name=True)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Remember the document each (also nested) model was parsed from."""
        model = handler(data)
        if isinstance(data, dict):
            model._raw = data
        return model


class CustomerMaterial(TolerantModel):
    """What the user wrote and attached (``mediaIdList`` are expiring CDN URLs)."""

    content: str = ""
    media_id_list: list[str] = Field(default_factory=list, validation_alias=AliasChoices("mediaIdList"))

    @field_validator("media_id_list", mode="before")
    @classmethod
    def _media(cls, value: Any) -> Any:
        return _as_list(value)


class ComplaintOrder(TolerantModel):
    """``complaintOrder`` of the detail answer."""

    _strict_fields = frozenset({"complaint_order_id"})

    complaint_order_id: str = Field(validation_alias=AliasChoices("complaintOrderId", "complaint_order_id"))
    openid: str | None = Field(default=None, validation_alias=AliasChoices("openid", "openId"))
    create_time: int | None = Field(default=None, validation_alias=AliasChoices("createTime"))
    phone_number: str | None = Field(default=None, repr=False, validation_alias=AliasChoices("phoneNumber"))
    type: int | None = None
    status: int | None = None
    customer_material: CustomerMaterial = Field(
        default_factory=CustomerMaterial, validation_alias=AliasChoices("customerMaterial")
    )
    order_id: str = Field(default="", validation_alias=AliasChoices("orderId"))
    out_trade_no: str = Field(default="", validation_alias=AliasChoices("outTradeNo"))
    product_name: str = Field(default="", validation_alias=AliasChoices("productName"))
    pay_time: int | None = Field(default=None, validation_alias=AliasChoices("payTime"))
    total_cost: str | None = Field(default=None, validation_alias=AliasChoices("totalCost", "totalCostStr"))
    expire_time: int | None = Field(default=None, validation_alias=AliasChoices("expireTime"))
    head_img_url: str = Field(default="", validation_alias=AliasChoices("headImgUrl"))
    nick_name: str = Field(default="", validation_alias=AliasChoices("nickName"))
    appeal_state: int | None = Field(default=None, validation_alias=AliasChoices("appealState"))

    @field_validator("complaint_order_id", mode="after")
    @classmethod
    def _id(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("complaintOrderId is empty")
        return value


class Item(TolerantModel):
    """One ``item`` (history node)."""

    item_type: int | None = Field(default=None, validation_alias=AliasChoices("itemType"))
    time: int | None = None
    content: str = ""
    media_id_list: list[str] = Field(default_factory=list, validation_alias=AliasChoices("mediaIdList"))
    phone_number: str | None = Field(default=None, repr=False, validation_alias=AliasChoices("phoneNumber"))
    nick_name: str = Field(default="", validation_alias=AliasChoices("nickName"))
    blame_result: int | None = Field(default=None, validation_alias=AliasChoices("blameResult"))
    appeal_item_type: int | None = Field(default=None, validation_alias=AliasChoices("appealItemType"))

    @field_validator("media_id_list", mode="before")
    @classmethod
    def _media(cls, value: Any) -> Any:
        return _as_list(value)


class ReturnBill(TolerantModel):
    """``returnBill``: the return waybill in the return flow."""

    return_id: str | None = Field(default=None, validation_alias=AliasChoices("returnId"))
    waybill_id: str = Field(default="", validation_alias=AliasChoices("waybillId"))
    delivery_name: str = Field(default="", validation_alias=AliasChoices("deliveryName"))
    order_status: int | None = Field(default=None, validation_alias=AliasChoices("orderStatus"))

    @property
    def present(self) -> bool:
        """Whether the bill names a return (an empty object means there is none)."""
        return bool(self.return_id or self.waybill_id)


class ComplaintDetail(TolerantModel):
    """The ``complaintOrderDetail`` answer: the complaint, its timeline and the return waybill."""

    _strict_fields = frozenset({"complaint_order"})

    complaint_order: ComplaintOrder = Field(validation_alias=AliasChoices("complaintOrder"))
    item: list[Item] = Field(default_factory=list)
    return_bill: ReturnBill | None = Field(default=None, validation_alias=AliasChoices("returnBill"))

    @field_validator("item", mode="before")
    @classmethod
    def _items(cls, value: Any) -> Any:
        return [] if value is None else [value] if isinstance(value, dict) else value

    @classmethod
    def from_raw(cls, data: dict[str, Any]) -> Self:
        """Parse the answer; ``item``/``returnBill`` nested inside ``complaintOrder`` are accepted too."""
        order = data.get("complaintOrder")
        if isinstance(order, dict):
            lifted = dict(data)
            for key in ("item", "returnBill"):
                if key not in lifted and key in order:
                    lifted[key] = order[key]
            if lifted != data:
                model = super().from_raw(lifted)
                model._raw = data
                return model
        return super().from_raw(data)


class UploadedMedia(TolerantModel):
    """The ``/cgi-bin/media/upload`` answer."""

    _strict_fields = frozenset({"media_id"})

    media_id: str
    type: str = ""
    created_at: int | None = None
