"""Per-account options of a Huishouqian account (``AccountConfig.options``), checked once at load time.

Every option stands for something the spec leaves unconfirmed; see ``docs/channels/huishouqian.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from complaintdesk.channels.huishouqian.cfca import DEFAULT_CHUNK_SIZE
from complaintdesk.channels.huishouqian.client import DATE_FORMATS
from complaintdesk.channels.huishouqian.envelope import SIGN_TYPES
from complaintdesk.errors import ConfigError

__all__ = ["HuishouqianOptions"]

_MAX_REPLY_TEXT = 64


@dataclass(frozen=True)
class HuishouqianOptions:
    """``sign_type`` RSA2|CFCA, ``act_type`` (int, sent as ``actType`` only when set), ``date_format``,
    ``notify_reply`` (body answered to a stored notification), ``cfca_chunk_size`` (CFCA only)."""

    sign_type: str = "RSA2"
    act_type: int | None = None
    date_format: str = "yyyy-MM-dd"
    notify_reply: str = "SUCCESS"
    cfca_chunk_size: int = DEFAULT_CHUNK_SIZE

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any], *, account: str) -> Self:
        """Read and check the known options (other keys are left to the core)."""
        sign_type = str(options.get("sign_type") or "RSA2").upper()
        if sign_type not in SIGN_TYPES:
            raise ConfigError(f"account {account}: sign_type must be one of {', '.join(SIGN_TYPES)}")
        act_type = options.get("act_type")
        if isinstance(act_type, str) and act_type.strip().lstrip("-").isdigit():
            act_type = int(act_type.strip())
        if act_type is not None and (isinstance(act_type, bool) or not isinstance(act_type, int)):
            raise ConfigError(f"account {account}: act_type must be a whole number")
        date_format = str(options.get("date_format") or "yyyy-MM-dd")
        if date_format not in DATE_FORMATS:
            raise ConfigError(f"account {account}: date_format must be one of {', '.join(DATE_FORMATS)}")
        notify_reply = str(options.get("notify_reply") or "SUCCESS")
        if len(notify_reply) > _MAX_REPLY_TEXT or not notify_reply.isprintable():
            raise ConfigError(f"account {account}: notify_reply must be short printable text")
        chunk = options.get("cfca_chunk_size", DEFAULT_CHUNK_SIZE)
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ConfigError(f"account {account}: cfca_chunk_size must be a positive whole number")
        return cls(
            sign_type=sign_type,
            act_type=act_type,
            date_format=date_format,
            notify_reply=notify_reply,
            cfca_chunk_size=chunk,
        )
