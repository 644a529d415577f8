"""``core/views``: filters, keyset paging in deadline and newest order, search, bounded counts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, true
from sqlalchemy.orm import Session
from tests.seed import two_accounts

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.views import probe, query, search
from complaintdesk.db import make_engine

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


def _row(n: int, account: int, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "channel": "wechatpay", "account_id": account, "merchant_account_id": account, "merchant_id": "m",
        "external_id": f"E{n:06d}", "status": "open", "raw_status": "PENDING", "problem_type": "OTHERS",
        "problem_description": "", "detail": f"第{n}号投诉", "orders": [],
        "complained_at": NOW - timedelta(hours=n),
        "created_at": NOW, "updated_at": NOW, "media_urls": [], "unknown_values": [], "raw": {},
        "sla_state": "ok", "sla_due_at": None,
    }  # fmt: skip
    row.update(fields)
    return row


def test_deadline_order_pages_through_everything_once_with_undated_ones_last(db: Session) -> None:
    a, _ = two_accounts(db)
    rng = random.Random(3)
    rows = []
    for n in range(47):
        due = None if n % 5 == 0 else NOW + timedelta(minutes=rng.choice([-90, 0, 30, 30, 600, 1440]))
        rows.append(_row(n, a, sla_due_at=due, status="resolved" if n % 11 == 0 else "open"))
    db.execute(insert(Complaint.__table__), rows)  # type: ignore[arg-type]
    db.commit()
    active = [r for r in rows if r["status"] == "open"]
    dated = sorted((r for r in active if r["sla_due_at"]), key=lambda r: (r["sla_due_at"], r["external_id"]))
    undated = [r for r in active if not r["sla_due_at"]]  # inserted in id order
    expected = [r["external_id"] for r in dated + undated]
    seen: list[str] = []
    cursor = None
    while True:
        page = query.list_page(session=db, filters=query.InboxFilters(), scope=true(), cursor=cursor, limit=6)
        seen += [c.external_id for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected


def test_a_page_filled_exactly_by_the_dated_rows_is_followed_by_every_undated_one(db: Session) -> None:
    a, _ = two_accounts(db)
    rows = [_row(n, a, sla_due_at=NOW + timedelta(minutes=n) if n >= 6 else None) for n in range(12)]
    db.execute(insert(Complaint.__table__), rows)  # type: ignore[arg-type]
    db.commit()
    first = query.list_page(session=db, filters=query.InboxFilters(), scope=true(), limit=6)
    assert [c.external_id for c in first.items] == [f"E{n:06d}" for n in range(6, 12)]
    second = query.list_page(
        session=db, filters=query.InboxFilters(), scope=true(), cursor=first.next_cursor, limit=6
    )
    assert [c.external_id for c in second.items] == [f"E{n:06d}" for n in range(6)]


def test_newest_order_pages_and_filters_combine(db: Session) -> None:
    a, b = two_accounts(db)
    rows = [_row(n, a if n % 2 else b, user_message_waiting=n % 3 == 0) for n in range(20)]
    db.execute(insert(Complaint.__table__), rows)  # type: ignore[arg-type]
    db.commit()
    filters = query.InboxFilters(status="", sort="newest", account_id=a, needs="message")
    expected = [r["external_id"] for r in rows if r["account_id"] == a and r["user_message_waiting"]]
    first = query.list_page(session=db, filters=filters, scope=true(), limit=2)
    second = query.list_page(session=db, filters=filters, scope=true(), limit=2, cursor=first.next_cursor)
    assert second.next_cursor is None  # 3 matches: nothing after the second page
    assert [c.external_id for c in first.items + second.items] == expected
    only_b = query.list_page(
        session=db,
        filters=query.InboxFilters(status=""),
        scope=Complaint.merchant_account_id.in_([b]),
        limit=50,
    )
    assert {c.account_id for c in only_b.items} == {b} and len(only_b.items) == 10


def test_search_finds_text_order_numbers_and_ids_and_follows_updates(db: Session) -> None:
    a, _ = two_accounts(db)
    rows = [
        _row(
            1,
            a,
            detail="快递显示已签收但我没有收到",
            orders=[{"out_trade_no": "T20260601ABC", "amount_fen": 1}],
        ),
        _row(2, a, detail="充值没有到账"),
        _row(3, a, detail="商家态度很差", external_id="200000000000000000000000000099"),
    ]
    db.execute(insert(Complaint.__table__), rows)  # type: ignore[arg-type]
    db.commit()

    def found(term: str) -> list[str]:
        page = query.list_page(session=db, filters=query.InboxFilters(status="", q=term), scope=true())
        return sorted(c.external_id for c in page.items)

    assert found("没有收到") == ["E000001"]
    assert found("没有") == ["E000001", "E000002"]  # two characters: plain LIKE
    assert found("T20260601ABC") == ["E000001"]
    assert found("t20260601abc") == ["E000001"] == found("601ab")  # Latin letters: case-insensitive
    assert found("200000000000000000000000000099") == ["200000000000000000000000000099"]
    assert found("100%_") == []
    complaint = db.query(Complaint).filter(Complaint.external_id == "E000002").one()
    complaint.detail = "重复扣款两次"
    db.commit()
    assert found("充值没有") == [] and found("重复扣款") == ["E000002"]


def test_search_index_is_installed_by_the_migration(db_url: str) -> None:
    engine = make_engine(db_url, pool_size=0)
    try:
        assert search.is_installed(engine)
    finally:
        engine.dispose()


def test_counts_are_capped(db: Session) -> None:
    a, _ = two_accounts(db)
    db.execute(insert(Complaint.__table__), [_row(n, a) for n in range(12)])  # type: ignore[arg-type]
    db.commit()
    counts = query.counts(
        session=db, views={"todo": query.InboxFilters(), "none": query.InboxFilters(status="closed")},
        scope=true(), cap=10,
    )  # fmt: skip
    assert counts == {"todo": 11, "none": 0}


def test_filters_survive_a_round_trip_and_bad_values_are_ignored() -> None:
    parsed = query.InboxFilters.from_params(
        {
            "status": "open",
            "sla": "breached",
            "assignee": "drop table",
            "from": "2026-13-01",
            "tag": "x",
            "q": " 退款 ",
        }
    )
    assert parsed == query.InboxFilters(status="open", sla="breached", q="退款")
    assert query.InboxFilters.from_params(parsed.as_params()) == parsed
    assert query.InboxFilters.from_params({}).status == "active"


@pytest.mark.parametrize(
    ("first_window", "probe_rows", "id_cap", "narrow_cap"),
    [(4, 100, 0, 0), (4, 8, 0, 0), (4, 8, 2000, 0), (4, 8, 0, 5000), (1000, 20_000, 2000, 5000)],
    ids=["probe-windows", "every-row", "full-text-ids", "narrow-filter", "defaults"],
)
def test_search_finds_the_same_rows_whatever_the_strategy(
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
    first_window: int,
    probe_rows: int,
    id_cap: int,
    narrow_cap: int,
) -> None:
    monkeypatch.setattr(probe, "FIRST_WINDOW", first_window)
    monkeypatch.setattr(query, "PROBE_ROWS", probe_rows)
    monkeypatch.setattr(search, "ID_CAP", id_cap)  # 0: the full-text index always "finds too many"
    monkeypatch.setattr(search, "NARROW_CAP", narrow_cap)  # 0: every filter is too big to check row by row
    a, _ = two_accounts(db)
    rows = [
        _row(
            n,
            a,
            detail="杯子碎了要退款" if n in (3, 25, 26, 40) else "其他问题",
            sla_due_at=NOW + timedelta(minutes=n),
        )
        for n in range(45)
    ]
    db.execute(insert(Complaint.__table__), rows)  # type: ignore[arg-type]
    db.commit()
    seen: list[str] = []
    cursor = None
    while True:
        page = query.list_page(
            session=db,
            filters=query.InboxFilters(q="杯子碎了", account_id=a),
            scope=true(),
            cursor=cursor,
            limit=2,
        )
        seen += [c.external_id for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["E000003", "E000025", "E000026", "E000040"]


@pytest.mark.parametrize("term", ["退款", "要退款了"])
@pytest.mark.parametrize("sort", ["deadline", "newest"])
def test_a_term_common_in_the_table_is_found_row_by_row_inside_a_narrow_filter(
    db: Session, monkeypatch: pytest.MonkeyPatch, term: str, sort: str
) -> None:
    monkeypatch.setattr(probe, "FIRST_WINDOW", 4)  # the first rows of the filter hold no match
    monkeypatch.setattr(search, "ID_CAP", 5)  # the term is "common": more matches than the id list takes
    answers: list[list[int] | None] = []
    within = search.within

    def spy(*args: object, **kwargs: object) -> list[int] | None:
        found = within(*args, **kwargs)  # type: ignore[arg-type]
        answers.append(found)
        return found

    monkeypatch.setattr(search, "within", spy)
    a, b = two_accounts(db)
    common = [_row(n, a, detail="我要退款了") for n in range(40)]
    rng = random.Random(5)
    narrow = [
        _row(
            100 + n,
            b,
            detail="我要退款了，谢谢" if n % 4 == 1 and n > 8 else "其他问题",
            status="closed" if n % 7 == 0 else "open",
            sla_due_at=None if n % 5 == 0 else NOW + timedelta(minutes=rng.randrange(-600, 600)),
        )
        for n in range(60)
    ]
    db.execute(insert(Complaint.__table__), common + narrow)  # type: ignore[arg-type]
    db.commit()
    wanted = [r for r in narrow if r["status"] == "open" and "退款" in str(r["detail"])]
    if sort == "newest":
        wanted.sort(key=lambda r: r["complained_at"], reverse=True)  # type: ignore[arg-type,return-value]
    else:  # deadline first (undated last, in insertion = id order)
        dated = sorted(
            (r for r in wanted if r["sla_due_at"]), key=lambda r: (r["sla_due_at"], r["external_id"])
        )
        wanted = dated + [r for r in wanted if not r["sla_due_at"]]
    filters = query.InboxFilters(account_id=b, q=term, sort=sort)
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        page = query.list_page(session=db, filters=filters, scope=true(), cursor=cursor, limit=3)
        seen += [c.external_id for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(wanted) > 6 and seen == [r["external_id"] for r in wanted]
    assert answers and all(found is not None for found in answers)  # the narrow-filter strategy answered
