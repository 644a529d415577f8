from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from complaintdesk.channels.base import ComplaintSnapshot, HistoryEntry, OrderRef, UnifiedStatus
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints import service as complaint_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.timeline import service as timeline_service
from complaintdesk.db import make_engine, make_session_factory, unit_of_work
from complaintdesk.security import DataCipher

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
CIPHER = DataCipher(b"z" * 40)


def _snapshot(
    merchant_id: str = "1900000001", history: list[HistoryEntry] | None = None, **over: object
) -> ComplaintSnapshot:
    snap = ComplaintSnapshot(
        channel="wechatpay",
        external_id="200201820261101080076610000",
        merchant_id=merchant_id,
        raw_status="PENDING",
        status=UnifiedStatus.OPEN,
        complained_at=T0,
        detail="<script>alert(1)</script> 没收到货",
        problem_type="REFUND",
        amount_fen=1999,
        refund_amount_fen=1999,
        orders=[OrderRef("4200000000000000000000000001", "T1", 1999)],
        payer_phone="13800138000",
        refund_requested=True,
        history=history,
        raw={
            "complaint_id": "200201820261101080076610000",
            "complaint_state": "PENDING",
            "payer_phone": "ENC1",
        },
    )
    return dataclasses.replace(snap, **over)  # type: ignore[arg-type]


def _history(n: int) -> list[HistoryEntry]:
    return [
        HistoryEntry(
            external_id=f"log{i}",
            occurred_at=T0 + timedelta(minutes=i),
            kind="USER_RESPONSE",
            actor="user",
            text=f"m{i}",
        )
        for i in range(n)
    ]


def _setup(db_url: str, kind: str = "merchant") -> tuple[object, MerchantAccount]:
    engine = make_engine(db_url, pool_size=0)
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as s:
        account = account_service.create(
            session=s, name="shop", channel="wechatpay", mchid="1900000001", kind=kind
        )
    return sessions, account


def test_applying_the_same_snapshot_twice_changes_nothing_the_second_time(db_url: str) -> None:
    sessions, account = _setup(db_url)
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        first = complaint_service.apply_snapshot(
            session=s,
            account=account,
            snapshot=_snapshot(history=_history(2)),
            cipher=CIPHER,
            now=T0,
            discovered_by="sync",
        )
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        again = complaint_service.apply_snapshot(
            session=s,
            account=account,
            snapshot=_snapshot(
                history=_history(3),
                raw={
                    "complaint_id": "200201820261101080076610000",
                    "complaint_state": "PENDING",
                    "payer_phone": "ENC2",
                },
            ),
            cipher=CIPHER,
            now=T0,
            discovered_by="notification",
            announced=True,
        )
    assert first.created and first.timeline_added == 2
    assert not again.created and again.timeline_added == 1  # only the new history entry
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        complaint = s.scalars(select(Complaint)).one()
        assert complaint.discovered_by == "sync" and complaint.announced
        assert complaint.payer_phone_masked == "138****8000"
        assert "13800138000" not in (complaint.payer_phone_enc or "")
        assert CIPHER.decrypt(complaint.payer_phone_enc or "") == "13800138000"
        assert "payer_phone" not in complaint.raw  # the upstream ciphertext is not kept
        assert complaint.detail.startswith("<script>")  # stored verbatim; escaping is the renderer's job
        texts = [e.text for e in timeline_service.list_for(session=s, complaint_id=complaint.id)]
        assert texts == ["m0", "m1", "m2"]


def test_status_change_updates_unified_and_raw_status(db_url: str) -> None:
    sessions, account = _setup(db_url)
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        complaint_service.apply_snapshot(
            session=s, account=account, snapshot=_snapshot(), cipher=CIPHER, now=T0, discovered_by="sync"
        )
    changed = _snapshot(
        raw_status="PROCESSED", status=UnifiedStatus.RESOLVED, raw={"complaint_state": "PROCESSED"}
    )
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        result = complaint_service.apply_snapshot(
            session=s, account=account, snapshot=changed, cipher=CIPHER, now=T0, discovered_by="sync"
        )
        assert result.changed
        c = s.get(Complaint, result.complaint_id)
        assert c is not None and (c.status, c.raw_status) == ("resolved", "PROCESSED")
        assert (
            complaint_service.open_external_ids(session=s, account_id=account.id, channel="wechatpay") == []
        )


def test_service_provider_complaints_route_to_sub_merchants(db_url: str) -> None:
    sessions, account = _setup(db_url, kind="service_provider")
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        a = complaint_service.apply_snapshot(
            session=s,
            account=account,
            snapshot=_snapshot(merchant_id="1900000101"),
            cipher=CIPHER,
            now=T0,
            discovered_by="sync",
        )
        b = complaint_service.apply_snapshot(
            session=s,
            account=account,
            snapshot=_snapshot(merchant_id="1900000101", external_id="200201820261101080076610001"),
            cipher=CIPHER,
            now=T0,
            discovered_by="sync",
        )
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        ca, cb = s.get(Complaint, a.complaint_id), s.get(Complaint, b.complaint_id)
        assert ca is not None and cb is not None
        assert ca.account_id == account.id  # fetched with the provider's credentials
        assert ca.merchant_account_id == cb.merchant_account_id != account.id
        sub = s.get(MerchantAccount, ca.merchant_account_id)
        assert sub is not None and (sub.kind, sub.mchid, sub.parent_id) == (
            "sub_merchant",
            "1900000101",
            account.id,
        )
