from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from consolekit import T0, sessions_for
from sqlalchemy import func, select

from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.core.audit.service import AuditFilter
from complaintdesk.db import unit_of_work


def test_details_never_keep_secrets_or_phone_numbers() -> None:
    scrubbed = audit_service.scrub(
        {
            "password": "hunter2hunter2",
            "apiv3_key": "0123456789abcdef0123456789abcdef",
            "token": "cdk_secretvalue",
            "token_name": "erp",
            "nested": {"private_key": "-----BEGIN", "note": "call 13800138000 please"},
            "list": [{"secret": "s"}, "ok"],
            "count": 3,
        }
    )
    assert scrubbed == {
        "password": "[redacted]",
        "apiv3_key": "[redacted]",
        "token": "[redacted]",
        "token_name": "erp",
        "nested": {"private_key": "[redacted]", "note": "call 138****8000 please"},
        "list": [{"secret": "[redacted]"}, "ok"],
        "count": 3,
    }


def test_record_search_and_paging(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        for i in range(5):
            audit_service.record(
                session=s,
                action="login" if i % 2 == 0 else "login_failed",
                actor="alice" if i < 3 else "bob",
                ip=f"10.0.0.{i}",
                target_type="user",
                target_id="alice",
                at=T0 + timedelta(minutes=i),
            )
    with unit_of_work(sessions) as s:
        newest_first = audit_service.search(session=s)
        assert [e.actor_ip for e in newest_first] == [f"10.0.0.{i}" for i in (4, 3, 2, 1, 0)]
        assert [e.actor_ip for e in audit_service.search(session=s, limit=2, offset=1)] == [
            "10.0.0.3",
            "10.0.0.2",
        ]
        failed = audit_service.search(session=s, filters=AuditFilter(actions=["login_failed"]))
        assert [e.actor_ip for e in failed] == ["10.0.0.3", "10.0.0.1"]
        window = AuditFilter(actor="alice", since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
        assert [e.actor_ip for e in audit_service.search(session=s, filters=window)] == [
            "10.0.0.2",
            "10.0.0.1",
        ]
        assert audit_service.search(session=s, filters=AuditFilter(actor_ip="10.0.0.4"))[0].actor == "bob"


def test_csv_export_has_every_event_without_secrets_and_defuses_formulas(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        audit_service.record(
            session=s,
            action="credential_changed",
            actor="=cmd|' /C calc'!A0",
            ip="10.0.0.1",
            target_type="account",
            target_id="shop",
            details={"apiv3_key": "0123456789abcdef", "field": "apiv3_key_ref", "phone": "13800138000"},
            at=T0,
        )
        audit_service.record(session=s, action="logout", actor="alice", at=T0 + timedelta(seconds=1))
    with unit_of_work(sessions) as s:
        text = audit_service.export_csv(session=s)
    assert "0123456789abcdef" not in text and "13800138000" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["action"] for r in rows] == ["logout", "credential_changed"]
    assert rows[1]["actor"] == "'=cmd|' /C calc'!A0"  # a spreadsheet shows it as text, never runs it
    assert (
        rows[1]["details"] == '{"apiv3_key": "[redacted]", "field": "apiv3_key_ref", "phone": "[redacted]"}'
    )
    assert rows[1]["at"] == "2026-11-02T00:00:00+00:00"


def test_record_committed_survives_the_callers_rollback(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with pytest.raises(RuntimeError), unit_of_work(sessions) as s:
        audit_service.record(session=s, action="login", actor="alice")  # rolled back with the request
        audit_service.record_committed(session=s, action="complaint_denied", actor="alice", target_id=7)
        raise RuntimeError("the request failed afterwards")
    with unit_of_work(sessions) as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 1
        assert s.scalars(select(AuditEvent)).one().action == "complaint_denied"


def test_record_committed_lands_once_when_the_caller_commits(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        audit_service.record(session=s, action="login", actor="alice")
        audit_service.record_committed(session=s, action="complaint_denied", actor="alice", target_id=7)
    with unit_of_work(sessions) as s:
        actions = sorted(s.scalars(select(AuditEvent.action)))
    assert actions == ["complaint_denied", "login"]
