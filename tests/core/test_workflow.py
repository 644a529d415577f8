from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from consolekit import T0, account, cheap_hashing, complaint, principal, sessions_for, user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.core.users.permissions import Principal
from complaintdesk.core.workflow import assignment, notes, reads, tags
from complaintdesk.core.workflow.models import ComplaintTag
from complaintdesk.db import unit_of_work
from complaintdesk.errors import ActionRefused, ComplaintNotFound, Forbidden

H = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _fast_hashes() -> Iterator[None]:
    with cheap_hashing():
        yield


class World:
    """Two merchants, complaints of each, an agent of shop, a viewer of shop, an agent of other."""

    def __init__(self, s: Session) -> None:
        shop, other = account(s, "shop"), account(s, "other")
        self.mine = [complaint(s, shop).id for _ in range(3)]
        self.foreign = complaint(s, other).id
        self.agent_user = user(s, "alice", "agent", accounts=[shop])
        self.agent = principal(s, self.agent_user)
        self.colleague = user(s, "bob", "agent", accounts=[shop])
        self.viewer = principal(s, user(s, "vera", "viewer", accounts=[shop]))
        self.outsider = user(s, "olga", "agent", accounts=[other])


def _world(db_url: str) -> tuple[object, dict[str, int]]:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        w = World(s)
        ids = {
            "mine0": w.mine[0],
            "mine1": w.mine[1],
            "mine2": w.mine[2],
            "foreign": w.foreign,
            "alice": w.agent_user.id,
            "bob": w.colleague.id,
            "olga": w.outsider.id,
        }
    return sessions, ids


def _principal(s: Session, username: str) -> Principal:
    from complaintdesk.core.users import service as user_service

    return principal(s, user_service.get_by_username_or_raise(session=s, username=username))


def _timeline_kinds(s: Session, complaint_id: int) -> list[str]:
    return list(
        s.scalars(
            select(TimelineEntry.kind)
            .where(TimelineEntry.complaint_id == complaint_id)
            .order_by(TimelineEntry.id)
        )
    )


def test_bulk_assign_changes_all_and_writes_one_entry_each(db_url: str) -> None:
    sessions, ids = _world(db_url)
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        done = assignment.assign(
            session=s,
            principal=_principal(s, "alice"),
            complaint_ids=[ids["mine0"], ids["mine1"]],
            assignee_id=ids["bob"],
            now=T0,
        )
        assert len(done) == 2
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        assert {c.id: c.assignee_id for c in s.scalars(select(Complaint))} == {
            ids["mine0"]: ids["bob"],
            ids["mine1"]: ids["bob"],
            ids["mine2"]: None,
            ids["foreign"]: None,
        }
        entry = s.scalars(select(TimelineEntry).where(TimelineEntry.complaint_id == ids["mine0"])).one()
        assert (entry.kind, entry.actor, entry.actor_label, entry.raw["to_username"]) == (
            "assigned",
            "operator",
            "alice",
            "bob",
        )
        assignment.assign(
            session=s,
            principal=_principal(s, "alice"),
            complaint_ids=[ids["mine0"]],
            assignee_id=None,
            now=T0,
        )
        assert _timeline_kinds(s, ids["mine0"]) == ["assigned", "unassigned"]


def test_bulk_assign_with_one_out_of_scope_id_changes_nothing(db_url: str) -> None:
    sessions, ids = _world(db_url)
    with pytest.raises(ComplaintNotFound, match="1 of the selected"), unit_of_work(sessions) as s:  # type: ignore[arg-type]
        assignment.assign(
            session=s,
            principal=_principal(s, "alice"),
            complaint_ids=[ids["mine0"], ids["foreign"], ids["mine1"]],
            assignee_id=ids["alice"],
            now=T0,
        )
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        assert s.scalar(select(func.count()).where(Complaint.assignee_id.is_not(None))) == 0
        assert s.scalar(select(func.count()).select_from(TimelineEntry)) == 0
        denied = s.scalars(select(AuditEvent).where(AuditEvent.action == "complaint_denied")).one()
        assert denied.actor == "alice" and denied.details["complaint_ids"] == [ids["foreign"]]


def test_assignment_rules(db_url: str) -> None:
    sessions, ids = _world(db_url)
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        alice, vera = _principal(s, "alice"), _principal(s, "vera")
        with pytest.raises(Forbidden):
            assignment.assign(
                session=s, principal=vera, complaint_ids=[ids["mine0"]], assignee_id=None, now=T0
            )
        with pytest.raises(ActionRefused, match="cannot see"):  # olga's scope does not cover shop
            assignment.assign(
                session=s, principal=alice, complaint_ids=[ids["mine0"]], assignee_id=ids["olga"], now=T0
            )
        from complaintdesk.core.users import service as user_service

        vera_user = user_service.get_by_username_or_raise(session=s, username="vera")
        with pytest.raises(ActionRefused, match="active agent or admin"):
            assignment.assign(
                session=s, principal=alice, complaint_ids=[ids["mine0"]], assignee_id=vera_user.id, now=T0
            )
        with pytest.raises(ActionRefused, match="no complaints"):
            assignment.assign(session=s, principal=alice, complaint_ids=[], assignee_id=None, now=T0)


def test_bulk_tagging_adds_and_removes_with_timeline_entries(db_url: str) -> None:
    sessions, ids = _world(db_url)
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        alice = _principal(s, "alice")
        urgent = tags.create_tag(session=s, principal=alice, name="  紧急  ", now=T0, color="#ff0000")
        refund = tags.create_tag(session=s, principal=alice, name="退款", now=T0)
        assert urgent.name == "紧急"
        changed = tags.tag(
            session=s,
            principal=alice,
            complaint_ids=[ids["mine0"], ids["mine1"]],
            add=[urgent.id, refund.id],
            now=T0,
        )
        assert changed == 2
        again = tags.tag(
            session=s, principal=alice, complaint_ids=[ids["mine0"], ids["mine1"]], add=[urgent.id], now=T0
        )
        assert again == 0  # nothing new: no timeline noise
        tags.tag(session=s, principal=alice, complaint_ids=[ids["mine0"]], remove=[urgent.id], now=T0 + H)
        by_complaint = tags.tags_for(session=s, complaint_ids=[ids["mine0"], ids["mine1"], ids["mine2"]])
        assert {k: [t.name for t in v] for k, v in by_complaint.items()} == {
            ids["mine0"]: ["退款"],
            ids["mine1"]: ["紧急", "退款"],
        }
        assert _timeline_kinds(s, ids["mine0"]) == ["tagged", "tagged"]
        texts = list(s.scalars(select(TimelineEntry.text).where(TimelineEntry.complaint_id == ids["mine0"])))
        assert texts[1] == "标签 -紧急"


def test_bulk_tagging_with_an_out_of_scope_id_changes_nothing(db_url: str) -> None:
    sessions, ids = _world(db_url)
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        tag_id = tags.create_tag(session=s, principal=_principal(s, "alice"), name="x", now=T0).id
    with pytest.raises(ComplaintNotFound), unit_of_work(sessions) as s:  # type: ignore[arg-type]
        tags.tag(
            session=s,
            principal=_principal(s, "alice"),
            complaint_ids=[ids["mine0"], ids["foreign"]],
            add=[tag_id],
            now=T0,
        )
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        assert s.scalar(select(func.count()).select_from(ComplaintTag)) == 0


def test_read_state_follows_updates_and_bulk_mark_read_is_scoped(db_url: str) -> None:
    sessions, ids = _world(db_url)
    mine = [ids["mine0"], ids["mine1"], ids["mine2"]]
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        alice = _principal(s, "alice")
        assert reads.unread_ids(session=s, user_id=alice.user_id, complaint_ids=mine) == set(mine)
        assert reads.mark_read(session=s, principal=alice, complaint_ids=mine[:2], now=T0 + H) == 2
        assert reads.unread_ids(session=s, user_id=alice.user_id, complaint_ids=mine) == {ids["mine2"]}
        c = s.get(Complaint, ids["mine0"])
        assert c is not None
        c.updated_at = T0 + 2 * H  # something new arrived
        s.flush()
        assert reads.unread_ids(session=s, user_id=alice.user_id, complaint_ids=mine) == {
            ids["mine0"],
            ids["mine2"],
        }
        reads.mark_read(session=s, principal=alice, complaint_ids=[ids["mine0"]], now=T0 + 3 * H)  # upsert
        assert reads.unread_ids(session=s, user_id=alice.user_id, complaint_ids=mine) == {ids["mine2"]}
        bob = _principal(s, "bob")
        assert reads.unread_ids(session=s, user_id=bob.user_id, complaint_ids=mine) == set(mine)  # per user
        reads.mark_unread(session=s, principal=alice, complaint_ids=[ids["mine1"]])
        assert reads.unread_ids(session=s, user_id=alice.user_id, complaint_ids=mine) == {
            ids["mine1"],
            ids["mine2"],
        }
    with pytest.raises(ComplaintNotFound), unit_of_work(sessions) as s:  # type: ignore[arg-type]
        reads.mark_read(
            session=s, principal=_principal(s, "alice"), complaint_ids=[ids["mine2"], ids["foreign"]], now=T0
        )
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        alice = _principal(s, "alice")
        assert ids["mine2"] in reads.unread_ids(session=s, user_id=alice.user_id, complaint_ids=mine)


def test_internal_notes_are_internal_and_make_the_complaint_unread_for_others(db_url: str) -> None:
    sessions, ids = _world(db_url)
    with unit_of_work(sessions) as s:  # type: ignore[arg-type]
        alice, bob = _principal(s, "alice"), _principal(s, "bob")
        reads.mark_read(session=s, principal=bob, complaint_ids=[ids["mine0"]], now=T0 + H)
        entry = notes.add_note(
            session=s, principal=alice, complaint_id=ids["mine0"], text="  客户来电，已安抚  ", now=T0 + 2 * H
        )
        assert (entry.source, entry.actor, entry.actor_label, entry.text) == (
            "note",
            "operator",
            "alice",
            "客户来电，已安抚",
        )
        assert entry.raw == {"author": "alice", "author_id": alice.user_id, "visibility": "internal"}
        assert notes.is_internal(entry)
        assert reads.unread_ids(session=s, user_id=bob.user_id, complaint_ids=[ids["mine0"]]) == {
            ids["mine0"]
        }
        assert reads.unread_ids(session=s, user_id=alice.user_id, complaint_ids=[ids["mine0"]]) == set()
        with pytest.raises(ActionRefused):
            notes.add_note(session=s, principal=alice, complaint_id=ids["mine0"], text="   ", now=T0)
        with pytest.raises(Forbidden):
            notes.add_note(
                session=s, principal=_principal(s, "vera"), complaint_id=ids["mine0"], text="x", now=T0
            )
        with pytest.raises(ComplaintNotFound):
            notes.add_note(session=s, principal=alice, complaint_id=ids["foreign"], text="x", now=T0)
