"""Console inbox at scale: seed 1,000,000 complaints, then time the inbox queries the console runs.

Every query goes through ``complaintdesk.core.views.query`` — the functions the console's pages call —
so the figures are the console's, not a hand-tuned SQL's. Run from the repository root::

    .venv/bin/python bench/console.py                         # SQLite and PostgreSQL, 1,000,000 rows
    .venv/bin/python bench/console.py --rows 200000 --backend sqlite

Seeding uses bulk ``executemany`` inserts with the search index dropped during the load and rebuilt
after (the way an import would do it). Distributions: 3 channels (70/20/10 %), 40 merchant accounts
(a few large, many small), 90 % of complaints finished, the active rest spread over deadlines from
2 days overdue to 3 days ahead, Chinese complaint texts from a vocabulary, 1-2 orders each.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BACKENDS, PG_ADMIN_URL, BackendUnavailable, database, parse_list, percentile, table
from sqlalchemy import create_engine, func, insert, select, text, true
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.users.models import User
from complaintdesk.core.views import query, search
from complaintdesk.db import make_engine, make_session_factory
from complaintdesk.migrate import upgrade

CHANNELS = (("wechatpay", 0.7), ("miniprogram", 0.2), ("huishouqian", 0.1))
PHRASES = (
    "商品一直没有发货", "快递显示已签收但我没有收到", "申请退款后商家不处理", "收到的商品有质量问题",
    "客服电话打不通", "会员权益没有生效", "重复扣款两次", "优惠券无法使用", "充值没有到账", "课程无法观看",
    "商家态度很差", "订单被无故取消", "实际金额和页面显示不一致", "外卖送达时间太晚", "酒店到店无法入住",
)  # fmt: skip
WORDS = ("麻烦尽快处理", "已经等了三天", "希望退款", "请给个说法", "谢谢", "非常失望", "请联系我")


def _accounts(session: Session) -> list[tuple[int, str]]:
    rows: list[tuple[int, str]] = []
    for index in range(40):
        channel = CHANNELS[0][0] if index < 28 else CHANNELS[1][0] if index < 36 else CHANNELS[2][0]
        account = MerchantAccount(
            name=f"bench-{index:02d}",
            display_name=f"商户{index:02d}",
            channel=channel,
            mchid=f"19{index:08d}",
        )
        session.add(account)
        session.flush()
        rows.append((account.id, channel))
    for index in range(10):
        session.add(
            User(username=f"agent{index}", password_hash="x", role="agent", all_accounts=True, account_ids=[])
        )
    session.flush()
    return rows


def _rows(count: int, accounts: list[tuple[int, str]], users: list[int], now: datetime, seed: int) -> Any:
    rng = random.Random(seed)
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(accounts))]
    batch: list[dict[str, Any]] = []
    for n in range(count):
        account_id, channel = rng.choices(accounts, weights)[0]
        complained = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
        roll = rng.random()
        status = (
            "resolved" if roll < 0.82 else "closed" if roll < 0.90 else "responded" if roll < 0.95
            else "open" if roll < 0.985 else "in_platform" if roll < 0.995 else "unknown"
        )  # fmt: skip
        active = status in query.ACTIVE_STATUSES
        due = now + timedelta(hours=rng.uniform(-48, 72)) if active else None
        state = (
            "ok" if due is None or due > now + timedelta(hours=4) else "warning" if due > now else "breached"
        )
        out_trade_no = f"T{complained:%Y%m%d}{n:010d}"
        amount = rng.choice((990, 1990, 4990, 9900, 19900, 59900, 129900))
        batch.append(
            {
                "channel": channel, "account_id": account_id, "merchant_account_id": account_id,
                "merchant_id": f"m{account_id}", "external_id": f"{200000000000 + n}", "status": status,
                "raw_status": status.upper(), "problem_type": "REFUND" if rng.random() < 0.3 else "OTHERS",
                "problem_description": rng.choice(PHRASES),
                "detail": f"{rng.choice(PHRASES)}，{rng.choice(WORDS)}。订单{out_trade_no}",
                "amount_fen": amount,
                "orders": [{"transaction_id": f"42{n:020d}", "out_trade_no": out_trade_no,
                            "amount_fen": amount}],
                "complained_at": complained, "created_at": complained, "updated_at": complained,
                "user_message_waiting": active and rng.random() < 0.3, "refund_requested": rng.random() < 0.2,
                "immediate_service": rng.random() < 0.02, "platform_assistance": status == "in_platform",
                "sla_state": state, "sla_due_at": due,
                "assignee_id": rng.choice(users) if active and rng.random() < 0.4 else None,
                "media_urls": [], "unknown_values": [], "raw": {},
            }
        )  # fmt: skip
        if len(batch) == 5000:
            yield batch
            batch = []
    if batch:
        yield batch


def seed(url: str, count: int) -> tuple[float, dict[str, Any]]:
    """Fill the database; returns seconds spent and facts the queries use."""
    engine = make_engine(url, pool_size=0)
    started = time.perf_counter()
    now = datetime.now(UTC)
    with make_session_factory(engine)() as session, session.begin():
        accounts = _accounts(session)
        users = list(session.scalars(select(User.id)))
    with engine.begin() as connection:
        search.uninstall(connection)
    loaded = 0
    with engine.begin() as connection:
        for batch in _rows(count, accounts, users, now, seed=7):
            connection.execute(insert(Complaint.__table__), batch)  # type: ignore[arg-type]
            loaded += len(batch)
            if loaded % 200_000 == 0:
                print(f"  {loaded:,} rows …", flush=True)
    with engine.begin() as connection:
        search.install(connection)
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE complaint")
        else:
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    facts = {"account_id": accounts[3][0], "small_account_id": accounts[-1][0], "user_id": users[0]}
    return time.perf_counter() - started, {**facts, "last_day": now.date()}


def measure(fn: Callable[[], object], repeat: int) -> tuple[float, float, Any]:
    """p50 and p95 in milliseconds (one warm-up call first)."""
    result = fn()
    times: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), percentile(times, 95), result


def _narrow_cases(facts: dict[str, Any]) -> list[tuple[str, query.InboxFilters]]:
    """Common terms inside narrow and medium filters (the term is common in the table, not in the filter)."""
    small, large = facts["small_account_id"], facts["account_id"]
    end = facts["last_day"] - timedelta(days=60)
    start = end - timedelta(days=6)
    rare = "酒店到店无法入住，请联系我"  # ~0.5 % of the table: too many for the id list, few in a filter
    F = query.InboxFilters
    return [
        ("common 2 chars, small merchant", F(account_id=small, q="没有")),
        ("common 2 chars, small merchant, newest", F(account_id=small, q="商品", sort="newest")),
        ("common 4 chars, small merchant", F(account_id=small, q="申请退款")),
        ("common 2 chars, small merchant, all statuses", F(account_id=small, status="", q="退款")),
        ("common 4 chars, small merchant, all statuses", F(account_id=small, status="", q="没有收到")),
        ("rare in filter, small merchant, all statuses", F(account_id=small, status="", q=rare)),
        ("rare in filter, small merchant", F(account_id=small, q=rare)),
        ("common, huishouqian + breached", F(channel="huishouqian", sla="breached", q="没有")),
        ("common 4 chars, huishouqian + breached", F(channel="huishouqian", sla="breached", q="申请退款")),
        ("common 2 chars, one week", F(date_from=start, date_to=end, q="商品")),
        ("common 4 chars, one week, all statuses", F(date_from=start, date_to=end, status="", q="没有收到")),
        ("rare in filter, one week", F(date_from=start, date_to=end, q=rare)),
        ("common 2 chars, mine", F(assignee="me", q="退款")),
        ("common 4 chars, mine", F(assignee="me", q="没有收到")),
        ("rare in filter, mine", F(assignee="me", q=rare)),
        ("common 2 chars, medium (miniprogram)", F(channel="miniprogram", q="没有")),
        ("common 4 chars, medium (large merchant)", F(account_id=large, q="重复扣款")),
        ("rare in filter, medium (miniprogram)", F(channel="miniprogram", q=rare)),
    ]  # fmt: skip


def run_queries(url: str, facts: dict[str, Any], repeat: int) -> list[list[str]]:
    """Time the console's queries."""
    engine = make_engine(url, pool_size=2)
    sessions = make_session_factory(engine)
    scoped = Complaint.merchant_account_id.in_([facts["account_id"]])
    with sessions() as s:
        some = s.scalars(select(Complaint).where(Complaint.status == "open").limit(1)).one()
        order_no = some.orders[0]["out_trade_no"]
        deep = query.list_page(session=s, filters=query.InboxFilters(), scope=true())
        for _ in range(20):  # the cursor of page 21
            deep = query.list_page(
                session=s, filters=query.InboxFilters(), scope=true(), cursor=deep.next_cursor
            )
    cases: list[tuple[str, query.InboxFilters, Any, str | None]] = [
        ("default view (all accounts)", query.InboxFilters(), true(), None),
        ("default view, page 21 (keyset)", query.InboxFilters(), true(), deep.next_cursor),
        ("default view, one merchant", query.InboxFilters(), scoped, None),
        ("mine (assignee)", query.InboxFilters(assignee="me"), true(), None),
        ("filtered: wechatpay + refund + breached", query.InboxFilters(channel="wechatpay", needs="refund",
                                                                      sla="breached"), true(), None),
        ("all statuses, newest first", query.InboxFilters(status="", sort="newest"), true(), None),
        ("search order number", query.InboxFilters(status="", q=order_no), true(), None),
        ("search text (5 chars)", query.InboxFilters(status="", q="没有收到"), true(), None),
        ("search text, active only", query.InboxFilters(q="重复扣款"), true(), None),
        ("search text (2 chars)", query.InboxFilters(q="退款"), true(), None),
        ("search text, no match", query.InboxFilters(status="", q="蓝牙耳机没声音"), true(), None),
        ("search part of an order number", query.InboxFilters(status="", q=order_no[-9:]), true(), None),
        *((name, filters, true(), None) for name, filters in _narrow_cases(facts)),
    ]  # fmt: skip
    rows: list[list[str]] = []
    with sessions() as s:
        for name, filters, scope, cursor in cases:

            def call(f: query.InboxFilters = filters, sc: Any = scope, cur: str | None = cursor) -> int:
                page = query.list_page(session=s, filters=f, scope=sc, user_id=facts["user_id"], cursor=cur)
                return len(page.items)

            p50, p95, found = measure(call, repeat)
            rows.append([name, f"{p50:.1f}", f"{p95:.1f}", str(found)])
        views = query.builtin_views()

        def badges() -> int:
            return sum(query.counts(session=s, views=views, scope=true(), user_id=facts["user_id"]).values())

        p50, p95, total = measure(badges, max(repeat // 5, 5))
        rows.append([f"counts of the {len(views)} built-in views (capped at {query.COUNT_CAP})", f"{p50:.1f}",
                     f"{p95:.1f}", str(total)])  # fmt: skip
    engine.dispose()
    return rows


def kept_postgres(name: str) -> str:
    """The URL of a PostgreSQL database kept between runs (created when missing)."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def run_kept(url: str, rows: int, repeat: int) -> None:
    """A kept database (SQLite file or PostgreSQL): seed it once, then only time the queries on later runs."""
    path = url.split("/")[-1]
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as connection:  # a database kept from an earlier version gets new search indexes
        search.install(connection)
    with make_session_factory(engine)() as session:
        have = session.scalar(select(func.count()).select_from(Complaint)) or 0
        account = session.scalar(select(MerchantAccount.id).where(MerchantAccount.name == "bench-03"))
        small = session.scalar(select(MerchantAccount.id).where(MerchantAccount.name == "bench-39"))
        user = session.scalar(select(User.id).where(User.username == "agent0"))
        last = session.scalar(select(func.max(Complaint.complained_at)))
    engine.dispose()
    if have < rows or account is None or user is None:
        print(f"\n== {path}: seeding {rows:,} complaints", flush=True)
        seconds, facts = seed(url, rows)
        print(f"   seeded in {seconds:.0f} s (bulk insert + search index build)")
    else:
        last_day = (last or datetime.now(UTC)).date()
        facts = {"account_id": account, "small_account_id": small, "user_id": user, "last_day": last_day}
        print(f"\n== {path}: {have:,} complaints already seeded")
    print(
        table(
            ["query (core/views, 50-row page)", "p50 ms", "p95 ms", "rows"], run_queries(url, facts, repeat)
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--backend", default="sqlite,postgresql")
    parser.add_argument(
        "--keep-sqlite", type=Path, help="keep (and reuse) the seeded SQLite file at this path"
    )
    parser.add_argument("--keep-postgres", help="keep (and reuse) a PostgreSQL database of this name")
    args = parser.parse_args()
    for backend in parse_list(args.backend, BACKENDS):
        if backend == "sqlite" and args.keep_sqlite:
            run_kept(f"sqlite:///{args.keep_sqlite}", args.rows, args.repeat)
            continue
        if backend == "postgresql" and args.keep_postgres:
            run_kept(kept_postgres(args.keep_postgres), args.rows, args.repeat)
            continue
        with TemporaryDirectory(prefix="cd-console-bench-") as tmp:
            try:
                with database(backend, Path(tmp)) as db:
                    print(f"\n== {backend}: seeding {args.rows:,} complaints", flush=True)
                    seconds, facts = seed(db.url, args.rows)
                    print(f"   seeded in {seconds:.0f} s (bulk insert + search index build)")
                    rows = run_queries(db.url, facts, args.repeat)
                    print(table(["query (core/views, 50-row page)", "p50 ms", "p95 ms", "rows"], rows))
            except BackendUnavailable as exc:
                print(f"\n== {backend}: skipped ({exc})")


if __name__ == "__main__":
    main()
