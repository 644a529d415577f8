"""Store what a channel reports: upsert complaints from snapshots and merge their timeline."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from complaintdesk.channels.base import ComplaintSnapshot, UnifiedStatus
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.alerts import hooks as alert_hooks
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.media import links as media_links
from complaintdesk.core.timeline import service as timeline_service
from complaintdesk.dbutil import execute_insert_ignore
from complaintdesk.errors import ComplaintNotFound
from complaintdesk.security import DataCipher, mask_phone

#: Raw fields left out of the change hash and the stored payload (personal or volatile data).
_VOLATILE_FIELDS = ("payer_phone", "payer_openid")
OPEN_STATUSES = (
    UnifiedStatus.OPEN,
    UnifiedStatus.RESPONDED,
    UnifiedStatus.IN_PLATFORM,
    UnifiedStatus.UNKNOWN,
)


@dataclass(frozen=True)
class ApplyResult:
    """What applying one snapshot changed."""

    complaint_id: int
    created: bool
    changed: bool
    timeline_added: int


@dataclass(frozen=True)
class StoredState:
    """Enough of a stored complaint to decide whether a sync must fetch more."""

    raw_hash: str
    status: str
    history_fetched_at: datetime | None


def stored_payload(raw: dict[str, Any]) -> dict[str, Any]:
    """The upstream payload as we keep it (personal fields removed: kept encrypted elsewhere)."""
    return {k: v for k, v in raw.items() if k not in _VOLATILE_FIELDS}


def payload_hash(raw: dict[str, Any]) -> str:
    """Stable hash of the upstream payload, ignoring randomised and personal fields."""
    return hashlib.sha256(orjson.dumps(stored_payload(raw), option=orjson.OPT_SORT_KEYS)).hexdigest()


def stored_states(
    *, session: Session, account_id: int, channel: str, external_ids: Collection[str]
) -> dict[str, StoredState]:
    """The stored hash/status of each complaint we have among ``external_ids``, in one query."""
    if not external_ids:
        return {}
    rows = session.execute(
        select(
            Complaint.external_id, Complaint.raw_hash, Complaint.status, Complaint.history_fetched_at
        ).where(
            Complaint.channel == channel,
            Complaint.account_id == account_id,
            Complaint.external_id.in_(set(external_ids)),
        )
    )
    return {row[0]: StoredState(row[1], row[2], row[3]) for row in rows}


def apply_snapshot(
    *,
    session: Session,
    account: MerchantAccount,
    snapshot: ComplaintSnapshot,
    cipher: DataCipher,
    now: datetime,
    discovered_by: str,
    announced: bool = False,
) -> ApplyResult:
    """Create or update the complaint described by ``snapshot`` and merge its history."""
    merchant = account_service.resolve_merchant(
        session=session, account=account, merchant_id=snapshot.merchant_id
    )
    key = {"channel": snapshot.channel, "account_id": account.id, "external_id": snapshot.external_id}
    created = bool(
        execute_insert_ignore(
            session,
            Complaint.__table__,  # type: ignore[arg-type]
            tuple(key),
            [
                {
                    **key,
                    "merchant_account_id": merchant.id,
                    "merchant_id": snapshot.merchant_id,
                    "status": snapshot.status.value,
                    "raw_status": snapshot.raw_status,
                    "complained_at": snapshot.complained_at,
                    "discovered_by": discovered_by,
                    "orders": [],
                    "media_urls": [],
                    "unknown_values": [],
                    "raw": {},
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
    )
    complaint = session.scalars(
        select(Complaint).where(*(getattr(Complaint, k) == v for k, v in key.items())).with_for_update()
    ).one()
    new_hash = payload_hash(snapshot.raw)
    changed = created or new_hash != complaint.raw_hash
    before = {k: getattr(complaint, k) for k in ("user_message_waiting", "platform_assistance", "raw_status")}
    if changed:
        _copy_fields(complaint, snapshot, merchant, cipher)
        complaint.raw_hash = new_hash
        complaint.updated_at = now
    complaint.announced = complaint.announced or announced
    complaint.last_refreshed_at = now
    added = 0
    media_links.register(
        session=session,
        complaint_id=complaint.id,
        urls=[*snapshot.media_urls, *(u for h in snapshot.history or [] for u in h.media_urls)],
        signed=snapshot.signed_media_links,
    )
    if snapshot.history is not None:
        added = timeline_service.merge_history(
            session=session, complaint_id=complaint.id, channel=snapshot.channel, history=snapshot.history
        )
        complaint.history_count = len(snapshot.history)
        complaint.history_fetched_at = now
        if added:
            complaint.updated_at = now
    session.flush()
    alert_hooks.on_snapshot(
        session=session,
        complaint=complaint,
        created=created,
        before=before,
        now=now,
        updated=changed or added > 0,
    )
    return ApplyResult(complaint.id, created, changed or added > 0, added)


def _copy_fields(
    complaint: Complaint, snapshot: ComplaintSnapshot, merchant: MerchantAccount, cipher: DataCipher
) -> None:
    complaint.merchant_account_id = merchant.id
    complaint.merchant_id = snapshot.merchant_id
    complaint.status = snapshot.status.value
    complaint.raw_status = snapshot.raw_status
    complaint.problem_type = snapshot.problem_type
    complaint.problem_description = snapshot.problem_description
    complaint.detail = snapshot.detail
    complaint.amount_fen = snapshot.amount_fen
    complaint.refund_amount_fen = snapshot.refund_amount_fen
    complaint.orders = [
        {"transaction_id": o.transaction_id, "out_trade_no": o.out_trade_no, "amount_fen": o.amount_fen}
        for o in snapshot.orders
    ]
    if snapshot.payer_phone:
        complaint.payer_phone_enc = cipher.encrypt(snapshot.payer_phone)
        complaint.payer_phone_masked = mask_phone(snapshot.payer_phone)
    if snapshot.payer_openid:
        complaint.payer_openid = snapshot.payer_openid
    complaint.complained_at = snapshot.complained_at
    complaint.deadline_at = snapshot.deadline_at or _deadline_from_raw(snapshot.raw)
    complaint.user_message_waiting = snapshot.user_message_waiting
    complaint.refund_requested = snapshot.refund_requested
    complaint.immediate_service = snapshot.immediate_service
    complaint.platform_assistance = snapshot.platform_assistance
    complaint.fully_refunded = snapshot.fully_refunded
    complaint.complaint_times = snapshot.complaint_times
    complaint.media_urls = list(snapshot.media_urls)
    complaint.unknown_values = list(snapshot.unknown_values)
    complaint.raw = stored_payload(snapshot.raw)


def _deadline_from_raw(raw: dict[str, Any]) -> datetime | None:
    value = raw.get("deadline_at")
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def get(*, session: Session, complaint_id: int) -> Complaint:
    """A complaint by our id, or ComplaintNotFound."""
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise ComplaintNotFound(f"no complaint with id {complaint_id}")
    return complaint


def find(*, session: Session, ref: str) -> Complaint:
    """A complaint by our numeric id or by its upstream id."""
    if ref.isdigit() and len(ref) < 12:
        return get(session=session, complaint_id=int(ref))
    complaint = session.scalar(select(Complaint).where(Complaint.external_id == ref).limit(1))
    if complaint is None:
        raise ComplaintNotFound(f"no complaint with id {ref}")
    return complaint


def list_recent(
    *, session: Session, limit: int = 50, status: str | None = None, account_ids: list[int] | None = None
) -> list[Complaint]:
    """Most recent complaints first, optionally filtered."""
    query = select(Complaint).order_by(Complaint.complained_at.desc(), Complaint.id.desc()).limit(limit)
    if status:
        query = query.where(Complaint.status == status)
    if account_ids is not None:
        query = query.where(Complaint.merchant_account_id.in_(account_ids))
    return list(session.scalars(query))


def open_external_ids(*, session: Session, account_id: int, channel: str) -> list[str]:
    """Upstream ids of every complaint of this account that is not finished."""
    return list(
        session.scalars(
            select(Complaint.external_id).where(
                Complaint.account_id == account_id,
                Complaint.channel == channel,
                Complaint.status.in_([s.value for s in OPEN_STATUSES]),
            )
        )
    )


def count(*, session: Session, account_id: int | None = None) -> int:
    """Number of complaints (for one account when given)."""
    query = select(func.count()).select_from(Complaint)
    if account_id is not None:
        query = query.where(Complaint.account_id == account_id)
    return int(session.scalar(query) or 0)
