from __future__ import annotations

import pytest
from consolekit import CIPHER, account, cheap_hashing, complaint, principal, sessions_for, user
from sqlalchemy import select

from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.core.workflow.phone import reveal_phone
from complaintdesk.db import unit_of_work
from complaintdesk.errors import ComplaintNotFound, Forbidden, NotFound

PHONE = "13912345678"


def _setup(db_url: str) -> tuple[object, int, int]:
    sessions = sessions_for(db_url)
    with cheap_hashing(), unit_of_work(sessions) as s:
        shop, other = account(s, "shop"), account(s, "other")
        with_phone = complaint(s, shop, phone=PHONE).id
        without = complaint(s, shop).id
        complaint(s, other, phone="13700000000")
        user(s, "agent", "agent", accounts=[shop])
        user(s, "viewer", "viewer", accounts=[shop])
        user(s, "outsider", "agent", accounts=[other])
    return sessions, with_phone, without


def _reveal(sessions: object, username: str, complaint_id: int) -> str:
    from complaintdesk.core.complaints.models import Complaint
    from complaintdesk.core.users.models import User

    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        who = s.scalars(select(User).where(User.username == username)).one()
        target = s.get(Complaint, complaint_id)
        assert target is not None
        return reveal_phone(
            session=s, complaint=target, principal=principal(s, who), cipher=CIPHER, ip="10.2.3.4"
        )


def _events(sessions: object) -> list[AuditEvent]:
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        return list(
            s.scalars(select(AuditEvent).where(AuditEvent.target_type == "complaint").order_by(AuditEvent.id))
        )


def test_an_agent_in_scope_sees_the_number_and_the_reveal_is_audited(db_url: str) -> None:
    sessions, with_phone, _ = _setup(db_url)
    assert _reveal(sessions, "agent", with_phone) == PHONE
    [event] = _events(sessions)
    assert (event.action, event.actor, event.actor_ip, event.target_id) == (
        "phone_revealed",
        "agent",
        "10.2.3.4",
        str(with_phone),
    )
    assert PHONE not in str(event.details)


def test_a_viewer_is_refused_and_the_attempt_is_audited(db_url: str) -> None:
    sessions, with_phone, _ = _setup(db_url)
    with pytest.raises(Forbidden):
        _reveal(sessions, "viewer", with_phone)
    [event] = _events(sessions)  # kept although the unit of work rolled back
    assert (event.action, event.actor, event.details["reason"]) == ("complaint_denied", "viewer", "role")


def test_out_of_scope_is_not_found_and_audited(db_url: str) -> None:
    sessions, with_phone, _ = _setup(db_url)
    with pytest.raises(ComplaintNotFound):
        _reveal(sessions, "outsider", with_phone)
    [event] = _events(sessions)
    assert (event.action, event.actor, event.details["reason"]) == (
        "complaint_denied",
        "outsider",
        "out_of_scope",
    )


def test_a_complaint_without_a_phone_reveals_nothing(db_url: str) -> None:
    sessions, _, without = _setup(db_url)
    with pytest.raises(NotFound, match="no phone"):
        _reveal(sessions, "agent", without)
    assert _events(sessions) == []
