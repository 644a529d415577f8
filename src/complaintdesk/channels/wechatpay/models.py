"""Tolerant typed views of the complaint API documents (new fields and enum values never break parsing).

Use :meth:`TolerantModel.from_raw` to parse: it keeps the original document (``.raw``) and records the
optional fields whose value could not be understood and fell back to the default (``.drift``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from pydantic import (
    Field,
    field_validator,
)

from complaintdesk.channels.common.models import TolerantModel, as_list
from complaintdesk.channels.wechatpay.webhook import CHINA_TZ

__all__ = [
    "CertificateList",
    "Complaint",
    "ComplaintListPage",
    "EncryptedCertificate",
    "EncryptedResource",
    "HistoryEntry",
    "HistoryPage",
    "MediaItem",
    "OrderInfo",
    "PlatformCertificate",
    "ServiceOrderInfo",
    "TolerantModel",
]


def _aware(value: datetime | None) -> datetime | None:
    """Attach China time to a naive timestamp."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=CHINA_TZ)
    return value


class MediaItem(TolerantModel):
    """One ``complaint_media_list`` item; ``media_url`` used to be a single string."""

    media_type: str = ""
    media_url: list[str] = Field(default_factory=list)

    @field_validator("media_url", mode="before")
    @classmethod
    def _urls(cls, value: Any) -> Any:
        return as_list(value)


class OrderInfo(TolerantModel):
    """One ``complaint_order_info`` item (amount in fen)."""

    transaction_id: str = ""
    out_trade_no: str = ""
    amount: int | None = None


class ServiceOrderInfo(TolerantModel):
    """One PayScore ``service_order_info`` item."""

    order_id: str = ""
    out_order_no: str = ""
    state: str = ""


class Complaint(TolerantModel):
    """A complaint as returned by detail (and, without ``payer_openid``, by list)."""

    complaint_id: str
    complaint_time: datetime | None = None
    complaint_detail: str = ""
    complaint_state: str = ""
    complainted_mchid: str = ""
    payer_phone: str | None = Field(default=None, repr=False)  # ciphertext of personal data
    payer_openid: str | None = None
    complaint_media_list: list[MediaItem] = Field(default_factory=list)
    complaint_order_info: list[OrderInfo] = Field(default_factory=list)
    service_order_info: list[ServiceOrderInfo] = Field(default_factory=list)
    complaint_full_refunded: bool = False
    incoming_user_response: bool = False
    problem_description: str = ""
    user_complaint_times: int | None = None
    problem_type: str | None = None
    apply_refund_amount: int | None = None
    user_tag_list: list[str] = Field(default_factory=list)
    additional_info: dict[str, Any] | None = None
    in_platform_service: bool | None = None
    need_immediate_service: bool | None = None
    is_agent_mode: bool | None = None

    @field_validator("complaint_media_list", "complaint_order_info", "service_order_info", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return as_list(value)

    @field_validator("user_tag_list", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else ([] if value is None else value)

    @field_validator("complaint_time", mode="after")
    @classmethod
    def _tz(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class ComplaintListPage(TolerantModel):
    """One page of the complaint list; ``total_count`` only comes with offset 0."""

    _strict_fields = frozenset({"data"})

    data: list[Complaint] = Field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    total_count: int | None = None

    @field_validator("data", mode="before")
    @classmethod
    def _data(cls, value: Any) -> Any:
        return [] if value is None else value


class HistoryEntry(TolerantModel):
    """One negotiation-history entry; ``complaint_media_list`` is an object now, an array before 2023-03."""

    log_id: str
    operator: str = ""
    operate_time: datetime | None = None
    operate_type: str = ""
    operate_details: str = ""
    image_list: list[str] = Field(default_factory=list)
    complaint_media_list: list[MediaItem] = Field(default_factory=list)
    user_appy_platform_service_reason: str | None = None
    user_appy_platform_service_reason_description: str | None = None
    normal_message: dict[str, Any] | None = None
    click_message: dict[str, Any] | None = None

    @field_validator("complaint_media_list", "image_list", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return as_list(value)

    @field_validator("operate_time", mode="after")
    @classmethod
    def _tz(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class HistoryPage(TolerantModel):
    """One page of negotiation history."""

    _strict_fields = frozenset({"data"})

    data: list[HistoryEntry] = Field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    total_count: int | None = None

    @field_validator("data", mode="before")
    @classmethod
    def _data(cls, value: Any) -> Any:
        return [] if value is None else value


class EncryptedResource(TolerantModel):
    """An AEAD-encrypted blob (certificate or notification resource)."""

    algorithm: str = ""
    nonce: str = ""
    associated_data: str = ""
    ciphertext: str = ""


class EncryptedCertificate(TolerantModel):
    """One entry of ``GET /v3/certificates``."""

    serial_no: str = ""
    effective_time: datetime | None = None
    expire_time: datetime | None = None
    encrypt_certificate: EncryptedResource

    _strict_fields = frozenset({"encrypt_certificate"})


class CertificateList(TolerantModel):
    """The ``GET /v3/certificates`` document."""

    _strict_fields = frozenset({"data"})

    data: list[EncryptedCertificate] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PlatformCertificate:
    """A decrypted platform certificate that is now trusted."""

    serial_no: str
    effective_time: datetime | None
    expire_time: datetime | None
    pem: bytes
    public_key: RSAPublicKey

    @property
    def not_after(self) -> datetime:
        """End of validity written in the certificate itself (after it, the certificate is not trusted)."""
        return x509.load_pem_x509_certificate(self.pem).not_valid_after_utc
