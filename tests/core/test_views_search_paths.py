"""Each strategy of the inbox search returns exactly the rows (and order) of a plain filtered LIKE query."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import ColumnElement, func, insert, select, true
from sqlalchemy.orm import Session
from tests.seed import two_accounts

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.views import probe, query, search

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
TERMS = ("酒店到店无法入住", "无法入住，请联系我", "到店无法入住，请联系", "退款")


def _seed(db: Session) -> tuple[int, int]:
    a, b = two_accounts(db)
    rng = random.Random(11)
    texts = ("酒店到店无法入住，请联系我", "酒店到店无法入住，谢谢", "申请退款后商家不处理", "其他问题")
    rows: list[dict[str, Any]] = []
    for n in range(400):
        account = a if n % 3 else b
        status = rng.choice(("open", "open", "responded", "resolved", "closed"))
        due = NOW + timedelta(minutes=rng.randrange(-900, 900)) if status in ("open", "responded") else None
        rows.append(
            {
                "channel": "wechatpay" if account == a else "miniprogram", "account_id": account,
                "merchant_account_id": account, "merchant_id": "m", "external_id": f"E{n:06d}",
                "status": status, "raw_status": "X", "problem_type": "OTHERS",
                "problem_description": rng.choice(texts), "detail": f"{rng.choice(texts)}。第{n}号",
                "orders": [], "complained_at": NOW - timedelta(hours=rng.randrange(0, 2000)),
                "created_at": NOW, "updated_at": NOW, "media_urls": [], "unknown_values": [], "raw": {},
                "sla_state": "ok", "sla_due_at": due, "assignee_id": None,
            }
        )  # fmt: skip
    db.execute(insert(Complaint.__table__), rows)  # type: ignore[arg-type]
    db.commit()
    return a, b


def _brute_force(db: Session, filters: query.InboxFilters) -> list[str]:
    where: list[ColumnElement[bool]] = query.conditions(filters, scope=true(), user_id=None, session=db)
    found = list(db.scalars(select(Complaint).where(*where, search.like_clause(filters.q))))
    if filters.sort == "newest":
        found.sort(key=lambda c: (c.complained_at, c.id), reverse=True)
    else:
        dated = sorted((c for c in found if c.sla_due_at), key=lambda c: (c.sla_due_at, c.id))
        found = dated + sorted((c for c in found if not c.sla_due_at), key=lambda c: c.id)
    return [c.external_id for c in found]


def _pages(db: Session, filters: query.InboxFilters) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(200):
        page = query.list_page(session=db, filters=filters, scope=true(), cursor=cursor, limit=7)
        seen += [c.external_id for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    return seen


@pytest.mark.parametrize("term", TERMS)
@pytest.mark.parametrize("sort", ["deadline", "newest"])
@pytest.mark.parametrize(
    ("narrow_cap", "join_cap"), [(0, 20_000), (10, 20_000), (10, 3)], ids=["join", "narrow-join", "walk"]
)
def test_a_term_joined_through_the_full_text_index_gives_the_plain_query_s_rows(
    db: Session, monkeypatch: pytest.MonkeyPatch, term: str, sort: str, narrow_cap: int, join_cap: int
) -> None:
    monkeypatch.setattr(probe, "FIRST_WINDOW", 3)  # the first rows of the sort order do not fill a page
    monkeypatch.setattr(query, "PROBE_ROWS", 6)
    monkeypatch.setattr(search, "ID_CAP", 2)  # too many matches for the id list
    monkeypatch.setattr(search, "NARROW_CAP", narrow_cap)  # filters too big to check row by row
    monkeypatch.setattr(search, "JOIN_CAP", join_cap)  # 3: too many matches to join (walk, then LIKE)
    joined: list[bool] = []
    indexed_among = search.indexed_among

    def spy(session: Session, term: str, cap: int | None = None) -> ColumnElement[bool] | None:
        found = indexed_among(session, term, cap)
        joined.append(found is not None)
        return found

    monkeypatch.setattr(search, "indexed_among", spy)
    _, b = _seed(db)
    week = {"date_from": date(2026, 5, 1), "date_to": date(2026, 5, 20)}
    for filters in (
        query.InboxFilters(q=term, sort=sort),
        query.InboxFilters(q=term, sort=sort, status=""),
        query.InboxFilters(q=term, sort=sort, account_id=b, status=""),
        query.InboxFilters(q=term, sort=sort, channel="wechatpay"),
        query.InboxFilters(q=term, sort=sort, status="", **week),  # type: ignore[arg-type]
    ):
        wanted = _brute_force(db, filters)
        assert len(wanted) > 7, filters
        assert _pages(db, filters) == wanted, filters
    sqlite = db.get_bind().dialect.name == "sqlite"  # PostgreSQL: its planner joins the trigram index
    if sqlite and len(term) >= 3 and join_cap > 3:  # the index's ids (beyond ID_CAP) joined to the filter
        assert joined and all(joined)


def test_the_index_is_asked_with_bitmap_scans_allowed(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL reads a GIN index by bitmap scans only: the probe's walk turns them off, its join must
    not run under that setting (a sequential scan of the table instead)."""
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("a PostgreSQL setting")
    monkeypatch.setattr(probe, "FIRST_WINDOW", 3)
    monkeypatch.setattr(search, "NARROW_CAP", 0)
    settings: list[str] = []
    matching_ids = search.matching_ids

    def spy(session: Session, term: str, cap: int | None = None) -> list[int] | None:
        settings.append(str(session.execute(select(func.current_setting("enable_bitmapscan"))).scalar()))
        return matching_ids(session, term, cap)

    monkeypatch.setattr(search, "matching_ids", spy)
    _seed(db)
    assert _pages(db, query.InboxFilters(q="酒店到店无法入住", status="")) == _brute_force(
        db, query.InboxFilters(q="酒店到店无法入住", status="")
    )
    assert settings and set(settings) == {"on"}


PLANNED = ("酒店到店无法入住，请联系我", "店无法入住，请", "入住，请联系", "没有收到", "Hotel")


@pytest.mark.parametrize("term", PLANNED)
def test_the_planner_s_condition_selects_what_like_selects(db: Session, term: str) -> None:
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's trigram index")
    _seed(db)
    db.execute(
        insert(Complaint.__table__),  # type: ignore[arg-type]
        [
            {  # the two ends of the term, apart: in the trigram lists, not a match
                "channel": "wechatpay", "account_id": 1, "merchant_account_id": 1, "merchant_id": "m",
                "external_id": "X1", "status": "open", "raw_status": "X", "problem_type": "OTHERS",
                "problem_description": "酒店到 … 联系我", "detail": "hotel", "orders": [],
                "complained_at": NOW,
                "created_at": NOW, "updated_at": NOW, "media_urls": [], "unknown_values": [], "raw": {},
                "sla_state": "ok",
            }
        ],
    )  # fmt: skip
    wanted = set(db.scalars(select(Complaint.id).where(search.like_clause(term))))
    planned = set(db.scalars(select(Complaint.id).where(search.planned(term))))
    assert planned == set(db.scalars(select(Complaint.id).where(search.matches(term, "postgresql"))))
    assert planned == wanted
