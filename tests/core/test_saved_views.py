from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from consolekit import T0, cheap_hashing, principal, sessions_for, user

from complaintdesk.core.workflow import views
from complaintdesk.db import unit_of_work
from complaintdesk.errors import ActionRefused, AlreadyExists, NotFound


@pytest.fixture(autouse=True)
def _fast_hashes() -> Iterator[None]:
    with cheap_hashing():
        yield


def test_saved_views_crud_and_order(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        alice = principal(s, user(s, "alice", "viewer", all_accounts=True))  # viewers may save views too
        bob = principal(s, user(s, "bob", all_accounts=True))
        due = views.create_view(
            session=s, principal=alice, name=" 快到期 ", filters={"sla": "warning"}, now=T0
        )
        mine = views.create_view(
            session=s,
            principal=alice,
            name="我的",
            filters={"assignee": "me", "tag": 3, "channels": ["wechatpay"]},
            now=T0,
        )
        views.create_view(session=s, principal=bob, name="快到期", filters={}, now=T0)  # names are per user
        assert due.name == "快到期" and (due.position, mine.position) == (0, 1)
        assert mine.filters == {"assignee": "me", "tag": 3, "channels": ["wechatpay"]}
        with pytest.raises(AlreadyExists):
            views.create_view(session=s, principal=alice, name="快到期", filters={}, now=T0)
        assert [v.name for v in views.list_views(session=s, principal=alice)] == ["快到期", "我的"]
        views.reorder_views(session=s, principal=alice, view_ids=[mine.id, due.id])
        assert [v.name for v in views.list_views(session=s, principal=alice)] == ["我的", "快到期"]
        with pytest.raises(ActionRefused):
            views.reorder_views(session=s, principal=alice, view_ids=[mine.id])
        later = T0 + timedelta(hours=1)
        updated = views.update_view(
            session=s, principal=alice, view_id=due.id, name="已超时", filters={"sla": "breached"}, now=later
        )
        assert (updated.name, updated.filters, updated.updated_at) == ("已超时", {"sla": "breached"}, later)
        with pytest.raises(NotFound):  # another user's view does not exist for alice
            views.get_view(session=s, principal=bob, view_id=due.id)
        with pytest.raises(NotFound):
            views.delete_view(session=s, principal=bob, view_id=due.id)
        views.delete_view(session=s, principal=alice, view_id=due.id)
        assert [v.name for v in views.list_views(session=s, principal=alice)] == ["我的"]
        assert [v.name for v in views.list_views(session=s, principal=bob)] == ["快到期"]


@pytest.mark.parametrize(
    "filters",
    [
        ["not", "an", "object"],
        {"nested": {"a": 1}},
        {"q": "x" * 201},
        {"list": list(range(51))},
        {"": 1},
        {f"k{i}": i for i in range(31)},
    ],
)
def test_filters_must_be_small_flat_json(filters: object) -> None:
    with pytest.raises(ActionRefused):
        views.check_filters(filters)


def test_views_are_capped_per_user(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        alice = principal(s, user(s, "alice", all_accounts=True))
        for i in range(views.MAX_VIEWS):
            views.create_view(session=s, principal=alice, name=f"v{i}", filters={}, now=T0)
        with pytest.raises(ActionRefused, match="at most 50"):
            views.create_view(session=s, principal=alice, name="one more", filters={}, now=T0)
