"""A hand-built set of complaints whose KPIs are known (used by the KPI, export and API tests).

Times are Asia/Shanghai (UTC+8). The period is 2026-06-01 … 2026-06-10.

====  =======  ===========  ================  ======  ========  ==========  =====  =======================
 no   account  channel      complained (SH)   reply   finished  sla         times  refund / actions
====  =======  ===========  ================  ======  ========  ==========  =====  =======================
 1    a        wechatpay    06-01 10:00       +2 h    +10 h     warn event  1      ¥10 asked, alice approves
 2    a        wechatpay    06-02 00:30       +4 h    +30 h     breach ev.  2
 3    b        miniprogram  06-02 09:00       +1 h    open      warning     3      ¥5 asked, bob rejects
                                                                                    (and a failed approve)
 4    a-sub    wechatpay    06-05 12:00       —       open      breached    5
 5    a        wechatpay    05-31 20:00       —       06-03 10  —           1      (before the period)
 6    a        wechatpay    06-11 01:00       —       open      —           1      (after the period)
 7    b        miniprogram  06-10 23:59       +8 h    +8 h      ok          1      carol: pending, 06-11
====  =======  ===========  ================  ======  ========  ==========  =====  =======================

Payer u1 complained twice (1, 2).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.core.timeline.models import TimelineEntry

SH = ZoneInfo("Asia/Shanghai")
FIRST, LAST = date(2026, 6, 1), date(2026, 6, 10)
NOW = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)


def sh(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH).astimezone(UTC)


@dataclass
class Dataset:
    a: int
    a_sub: int
    b: int
    ids: dict[int, int]  # row number → complaint id


def _row(n: int, account: int, channel: str, at: datetime, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "channel": channel, "account_id": account, "merchant_account_id": account, "merchant_id": "m",
        "external_id": f"R{n:04d}", "status": "open", "raw_status": "PENDING", "problem_type": "OTHERS",
        "problem_description": "", "detail": f"报表测试{n}", "orders": [], "complained_at": at,
        "created_at": at, "updated_at": at, "media_urls": [], "unknown_values": [], "raw": {},
        "sla_state": "ok", "sla_due_at": None, "complaint_times": 1, "payer_openid": None,
        "payer_phone_masked": f"138****{n:04d}", "first_response_at": None, "resolved_at": None,
        "refund_requested": False, "refund_amount_fen": None,
    }  # fmt: skip
    row.update(fields)
    return row


def build(db: Session) -> Dataset:
    """Insert the data set (committed) and return its ids."""
    a = MerchantAccount(name="rep-a", display_name="Shop A", channel="wechatpay", mchid="1001")
    b = MerchantAccount(name="rep-b", display_name="Mini B", channel="miniprogram", mchid="2002")
    db.add_all([a, b])
    db.flush()
    sub = MerchantAccount(name="rep-a-sub", display_name="Shop A sub", channel="wechatpay", mchid="1003")
    sub.parent_id = a.id
    db.add(sub)
    db.flush()
    h = timedelta(hours=1)
    t1, t2, t3 = sh(6, 1, 10), sh(6, 2, 0, 30), sh(6, 2, 9)
    t4, t5, t6, t7 = sh(6, 5, 12), sh(5, 31, 20), sh(6, 11, 1), sh(6, 10, 23, 59)
    rows = [
        _row(1, a.id, "wechatpay", t1, problem_type="REFUND", first_response_at=t1 + 2 * h,
             resolved_at=t1 + 10 * h, status="resolved", refund_requested=True, refund_amount_fen=1000,
             payer_openid="u1"),
        _row(2, a.id, "wechatpay", t2, problem_type="REFUND", first_response_at=t2 + 4 * h,
             resolved_at=t2 + 30 * h, status="resolved", complaint_times=2, payer_openid="u1"),
        _row(3, b.id, "miniprogram", t3, first_response_at=t3 + h, sla_state="warning",
             refund_requested=True, refund_amount_fen=500, complaint_times=3, payer_openid="u2"),
        _row(4, sub.id, "wechatpay", t4, problem_type="SERVICE", sla_state="breached", complaint_times=5,
             payer_openid="u3"),
        _row(5, a.id, "wechatpay", t5, resolved_at=sh(6, 3, 10), status="closed"),
        _row(6, a.id, "wechatpay", t6),
        _row(7, b.id, "miniprogram", t7, first_response_at=t7 + 8 * h, resolved_at=t7 + 8 * h,
             status="resolved"),
    ]  # fmt: skip
    for row in rows:
        row["account_id"] = a.id if row["merchant_account_id"] == sub.id else row["account_id"]
    db.execute(insert(Complaint.__table__), rows)  # type: ignore[arg-type]
    db.flush()
    ids = {
        int(c.external_id[1:]): c.id
        for c in db.query(Complaint).filter(Complaint.external_id.like("R%")).all()
    }

    def event(n: int, kind: str, at: datetime) -> dict[str, object]:
        return {
            "complaint_id": ids[n], "dedupe_key": f"{kind}:{n}", "source": "system", "kind": kind,
            "actor": "system", "actor_label": "", "occurred_at": at, "text": "", "media_urls": [],
            "known": True, "raw": {}, "created_at": at,
        }  # fmt: skip

    db.execute(
        insert(TimelineEntry.__table__),  # type: ignore[arg-type]
        [
            event(1, "sla_warning", t1 + 5 * h),
            event(2, "sla_warning", t2 + 20 * h),
            event(2, "sla_breach", t2 + 24 * h),
        ],
    )

    def action(n: int, seq: int, kind: str, status: str, who: str, at: datetime) -> dict[str, object]:
        return {
            "id": str(uuid.uuid4()), "complaint_id": ids[n], "seq": seq,
            "account_id": a.id if n < 3 else b.id,
            "channel": "wechatpay" if n < 3 else "miniprogram", "kind": kind, "params": {}, "image_refs": [],
            "status": status, "requested_by": who, "created_at": at, "updated_at": at,
            "sent_at": at if status == "sent" else None,
        }  # fmt: skip

    db.execute(
        insert(OutboundAction.__table__),  # type: ignore[arg-type]
        [
            action(1, 1, "refund_approve", "sent", "user:alice", t1 + 2 * h),
            action(3, 1, "refund_approve", "failed", "user:bob", t3 + h),
            action(3, 2, "refund_reject", "sent", "user:bob", t3 + 2 * h),
            action(7, 1, "refund_reject", "pending", "user:carol", t7 + 2 * h),
        ],
    )
    db.commit()
    return Dataset(a.id, sub.id, b.id, ids)
