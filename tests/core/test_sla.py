from __future__ import annotations

import sqlite3
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from consolekit import T0, account, complaint, sessions_for
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from complaintdesk.channels.base import HistoryEntry
from complaintdesk.clock import ManualClock
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.core.sla import service as sla_service
from complaintdesk.core.timeline import service as timeline_service
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.db import unit_of_work
from complaintdesk.migrate import upgrade
from complaintdesk.runtime import AppContext
from complaintdesk.settings import Settings

H = timedelta(hours=1)


def _sla_entries(s: Session, complaint_id: int) -> list[TimelineEntry]:
    return list(
        s.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.complaint_id == complaint_id, TimelineEntry.kind.like("sla_%"))
            .order_by(TimelineEntry.id)
        )
    )


def _history(s: Session, complaint_id: int, actor: str, at: timedelta, **raw: object) -> None:
    entry = HistoryEntry(
        external_id=uuid.uuid4().hex, occurred_at=T0 + at, kind="X", actor=actor, raw=dict(raw)
    )
    timeline_service.merge(session=s, rows=timeline_service.history_rows(complaint_id, [entry]))


def _action(s: Session, c: Complaint, status: str, sent: timedelta | None, seq: int = 1) -> None:
    s.add(
        OutboundAction(
            id=str(uuid.uuid4()),
            complaint_id=c.id,
            seq=seq,
            account_id=c.account_id,
            channel=c.channel,
            kind="reply",
            params={},
            image_refs=[],
            status=status,
            created_at=T0,
            updated_at=T0,
            sent_at=T0 + sent if sent is not None else None,
        )
    )
    s.flush()


def _one(db_url: str, **fields: object) -> tuple[sessionmaker[Session], int]:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        owner = account(s, "shop", channel=str(fields.pop("channel", "wechatpay")))
        return sessions, complaint(s, owner, **fields).id  # type: ignore[arg-type]


def _evaluate(sessions: sessionmaker[Session], complaint_id: int, at: timedelta) -> sla_service.SlaResult:
    with unit_of_work(sessions) as s:
        c = s.get(Complaint, complaint_id)
        assert c is not None
        return sla_service.evaluate(session=s, complaint=c, now=T0 + at)


def test_warning_then_breach_events_are_added_once_each(db_url: str) -> None:
    sessions, cid = _one(db_url)
    first = _evaluate(sessions, cid, 21 * H)
    assert (first.state.value, first.due_at, first.events_added) == ("warning", T0 + 24 * H, 1)
    assert _evaluate(sessions, cid, 21.5 * H).events_added == 0
    breach = _evaluate(sessions, cid, 25 * H)
    assert (breach.state.value, breach.events_added) == ("breached", 1)
    assert _evaluate(sessions, cid, 25 * H).events_added == 0  # evaluating twice adds nothing
    assert _evaluate(sessions, cid, 26 * H).events_added == 0
    with unit_of_work(sessions) as s:
        entries = _sla_entries(s, cid)
        assert [(e.kind, e.dedupe_key) for e in entries] == [
            ("sla_warning", "sla:warning:first_reply:2026-11-03T00:00:00+00:00"),
            ("sla_breach", "sla:breach:first_reply:2026-11-03T00:00:00+00:00"),
        ]
        assert entries[1].occurred_at == T0 + 24 * H  # a breach happens when the time runs out
        assert "2026-11-03 08:00" in entries[1].text  # due time shown in Beijing time
        stored = s.get(Complaint, cid)
        assert stored is not None
        assert (stored.sla_state, stored.sla_due_at, stored.sla_next_check_at) == (
            "breached",
            T0 + 24 * H,
            T0 + 66 * H,  # the finish clock reaches its first alert lead (6 h) next
        )


def test_a_late_first_evaluation_records_only_the_breach(db_url: str) -> None:
    sessions, cid = _one(db_url)
    result = _evaluate(sessions, cid, 80 * H)
    assert result.events_added == 2  # first reply and finish both breached; no stale warnings
    with unit_of_work(sessions) as s:
        assert sorted(e.dedupe_key for e in _sla_entries(s, cid)) == [
            "sla:breach:finish:2026-11-05T00:00:00+00:00",
            "sla:breach:first_reply:2026-11-03T00:00:00+00:00",
        ]


def test_first_response_comes_from_merchant_history_or_a_sent_action(db_url: str) -> None:
    sessions, cid = _one(db_url)
    with unit_of_work(sessions) as s:
        c = s.get(Complaint, cid)
        assert c is not None
        _history(s, cid, "user", 1 * H)
        _action(s, c, "pending", None)  # requested but not sent: its timeline entry must not count
        timeline_service.add_event(
            session=s,
            complaint_id=cid,
            dedupe_key="a:x",
            kind="reply",
            occurred_at=T0 + H,
            actor="merchant",
            source="action",
        )
    assert _evaluate(sessions, cid, 2 * H).first_response_at is None
    with unit_of_work(sessions) as s:
        c = s.get(Complaint, cid)
        assert c is not None
        _action(s, c, "sent", 5 * H, seq=2)
    result = _evaluate(sessions, cid, 6 * H)
    assert result.first_response_at == T0 + 5 * H
    assert [d.kind.value for d in result.deadlines] == ["finish"]
    with unit_of_work(sessions) as s:
        _history(s, cid, "merchant", 3 * H)  # an earlier answer made on WeChat's own portal
    assert _evaluate(sessions, cid, 7 * H).first_response_at == T0 + 3 * H


def test_resolved_complaints_stop_the_clock_and_get_resolved_at(db_url: str) -> None:
    sessions, cid = _one(db_url, status="resolved", updated_at=T0 + 30 * H)
    result = _evaluate(sessions, cid, 100 * H)
    assert (result.state.value, result.due_at, result.next_check_at, result.events_added) == (
        "ok",
        None,
        None,
        0,
    )
    assert result.resolved_at == T0 + 30 * H
    with unit_of_work(sessions) as s:
        c = s.get(Complaint, cid)
        assert c is not None and c.resolved_at == T0 + 30 * H
        c.status = "open"  # reopened upstream
    assert _evaluate(sessions, cid, 101 * H).resolved_at is None


def test_mini_program_deadline_comes_from_deadline_at(db_url: str) -> None:
    sessions, cid = _one(db_url, channel="miniprogram", raw_status="201", deadline_at=T0 + 48 * H)
    assert _evaluate(sessions, cid, 10 * H).due_at == T0 + 48 * H
    result = _evaluate(sessions, cid, 49 * H)
    assert (result.state.value, result.events_added) == ("breached", 1)
    with unit_of_work(sessions) as s:
        assert [e.dedupe_key for e in _sla_entries(s, cid)] == ["sla:breach:status:2026-11-04T00:00:00+00:00"]


def test_mini_program_appeal_window_starts_at_the_history_node(db_url: str) -> None:
    sessions, cid = _one(
        db_url,
        channel="miniprogram",
        status="closed",
        raw_status="209",
        raw={"complaintOrder": {"appealState": 401}},
    )
    with unit_of_work(sessions) as s:
        _history(s, cid, "platform", 40 * H, appealItemType=401)
        _history(s, cid, "user", 45 * H)
    result = _evaluate(sessions, cid, 50 * H)
    assert [(d.kind.value, d.due_at) for d in result.deadlines] == [("appeal", T0 + 112 * H)]


def test_evaluate_all_picks_due_and_changed_complaints_only(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        shop = account(s, "shop")
        fresh = complaint(s, shop, updated_at=T0 + 1 * H).id  # never evaluated
        due = complaint(s, shop).id
        quiet = complaint(s, shop).id
        for cid in (due, quiet):
            c = s.get(Complaint, cid)
            assert c is not None
            sla_service.evaluate(session=s, complaint=c, now=T0 + 2 * H)  # next check at +20 h
        stale = s.get(Complaint, quiet)
        assert stale is not None
        stale.sla_next_check_at = T0 + 30 * H  # pretend its next change is later
    with unit_of_work(sessions) as s:
        assert sla_service.evaluate_all(session=s, now=T0 + 21 * H) == 2
        states = {c.id: (c.sla_state, c.sla_evaluated_at) for c in s.scalars(select(Complaint))}
    assert states[fresh] == ("warning", T0 + 21 * H)
    assert states[due] == ("warning", T0 + 21 * H)
    assert states[quiet] == ("ok", T0 + 2 * H)  # untouched
    with unit_of_work(sessions) as s:
        assert sla_service.evaluate_all(session=s, now=T0 + 21 * H) == 0  # nothing left to do


@pytest.mark.anyio
async def test_the_job_evaluates_through_the_app_context(settings: Settings) -> None:
    from complaintdesk.jobs.sla import evaluate_sla

    sessions = sessions_for(settings.database_url)
    with unit_of_work(sessions) as s:
        cid = complaint(s, account(s, "shop")).id
    ctx = AppContext(settings, clock=ManualClock(T0 + 25 * H))
    try:
        assert await evaluate_sla(ctx) == 1
        assert await evaluate_sla(ctx) == 0
    finally:
        await ctx.aclose()
    with unit_of_work(sessions) as s:
        c = s.get(Complaint, cid)
        assert c is not None and c.sla_state == "breached"
        assert len(_sla_entries(s, cid)) == 1


def test_any_stored_change_makes_the_complaint_due_for_evaluation(db_url: str) -> None:
    import dataclasses

    from consolekit import CIPHER

    from complaintdesk.channels.base import ComplaintSnapshot, UnifiedStatus
    from complaintdesk.core.complaints import service as complaint_service

    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        shop = account(s, "shop")
    snapshot = ComplaintSnapshot(
        channel="wechatpay",
        external_id="200000000000000000000001",
        merchant_id=shop.mchid,
        raw_status="PENDING",
        status=UnifiedStatus.OPEN,
        complained_at=T0,
        raw={"complaint_state": "PENDING"},
    )
    with unit_of_work(sessions) as s:  # a new complaint, inserted the way sync and notifications do it
        cid = complaint_service.apply_snapshot(
            session=s, account=shop, snapshot=snapshot, cipher=CIPHER, now=T0 + H, discovered_by="sync"
        ).complaint_id
        assert sla_service.evaluate_all(session=s, now=T0 + H) == 1
        c = s.get(Complaint, cid)
        assert c is not None and c.sla_next_check_at == T0 + 18 * H  # the first alert lead (6 h)
    finished = dataclasses.replace(
        snapshot, raw_status="PROCESSED", status=UnifiedStatus.RESOLVED, raw={"complaint_state": "PROCESSED"}
    )
    with unit_of_work(sessions) as s:  # an update: due again at once, not at +20 h
        complaint_service.apply_snapshot(
            session=s, account=shop, snapshot=finished, cipher=CIPHER, now=T0 + 2 * H, discovered_by="sync"
        )
        c = s.get(Complaint, cid)
        assert c is not None and c.sla_next_check_at == T0 + H  # updated_at before this change: due at once
        assert sla_service.evaluate_all(session=s, now=T0 + 2 * H) == 1
        assert (c.sla_state, c.sla_due_at, c.sla_next_check_at, c.resolved_at) == (
            "ok",
            None,
            None,
            T0 + 2 * H,
        )


def test_evaluation_holds_while_another_connection_writes_on_sqlite(tmp_path: Path) -> None:
    """A write committed by another process mid-evaluation must not fail the evaluation (SQLite).

    SQLite refuses at once ("database is locked") to let a transaction that started with a
    savepoint write after another connection committed. The evaluation now takes the write lock
    before reading, so the other writer waits instead, and every due complaint is evaluated.
    """
    db_path = tmp_path / "sla.db"
    sessions = sessions_for(f"sqlite:///{db_path}")
    engine = sessions.kw["bind"]
    upgrade(engine)
    with unit_of_work(sessions) as s:
        shop = account(s, "shop")
        ids = [complaint(s, shop, updated_at=T0 + H).id for _ in range(3)]
    other = sqlite3.connect(db_path, timeout=0, isolation_level=None)
    other_writes: list[str] = []

    def write_from_another_connection(*_: object) -> None:
        try:
            other.execute("UPDATE merchant_account SET name = name")
            other_writes.append("committed")
        except sqlite3.OperationalError:
            other_writes.append("waited")

    event.listen(engine, "before_cursor_execute", write_from_another_connection)
    try:
        with unit_of_work(sessions) as s:
            assert sla_service.evaluate_all(session=s, now=T0 + 21 * H) == len(ids)
    finally:
        event.remove(engine, "before_cursor_execute", write_from_another_connection)
        other.close()
    assert "waited" in other_writes  # the other writer really ran into the evaluation's lock
    with unit_of_work(sessions) as s:
        assert all(s.get(Complaint, cid).sla_evaluated_at == T0 + 21 * H for cid in ids)  # type: ignore[union-attr]
