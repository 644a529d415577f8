"""Reports at scale: seed 1,000,000 complaints, then time the dashboard and a full export.

Everything goes through the code the console runs: ``core.reports.kpis.compute`` plus the SVG charts
and tables of ``/dashboard`` (30 days and one year, all accounts and one merchant), and
``core.reports.export`` for the export of every row (CSV and XLSX), run in a child process so its peak
RSS is its own. Run from the repository root::

    .venv/bin/python bench/reports.py                                  # SQLite and PostgreSQL, 1,000,000
    .venv/bin/python bench/reports.py --rows 200000 --backend sqlite
    .venv/bin/python bench/reports.py --keep-sqlite /tmp/reports.db --keep-postgres cd_reports_bench

Seeding: bulk ``executemany`` inserts (the search index is dropped for the load: reports do not use
it). Complaints spread evenly over the last 365 days, stored in arrival order as in production; 3
channels (70/20/10 %), 40 merchant accounts; 90 % finished; first responses after 0.2-30 h, finishes
after 2-120 h; 18 % with an SLA warning event and 8 % with a breach; 20 % ask for a refund; one action
requested for 25 % of complaints by 12 operators; payers drawn from 600,000 openids.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import random

from common import BACKENDS, PG_ADMIN_URL, BackendUnavailable, database, parse_list, percentile, table
from sqlalchemy import create_engine, func, insert, select, text, true

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.core.reports import export, kpis, rollup
from complaintdesk.core.reports import filters as report_filters
from complaintdesk.core.reports.tables import tables
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.core.views import query, search
from complaintdesk.db import make_engine, make_session_factory
from complaintdesk.migrate import upgrade
from complaintdesk.web.console.dashboard_charts import charts

CHANNELS = ("wechatpay", "miniprogram", "huishouqian")
BATCH = 5000
PROBLEMS = ("REFUND", "OTHERS", "SERVICE_NOT_WORK")


def _accounts(url: str) -> list[tuple[int, str]]:
    engine = make_engine(url, pool_size=0)
    out: list[tuple[int, str]] = []
    with make_session_factory(engine)() as session, session.begin():
        for index in range(40):
            channel = CHANNELS[0] if index < 28 else CHANNELS[1] if index < 36 else CHANNELS[2]
            account = MerchantAccount(name=f"bench-{index:02d}", display_name=f"商户{index:02d}",
                                      channel=channel, mchid=f"19{index:08d}")  # fmt: skip
            session.add(account)
            session.flush()
            out.append((account.id, channel))
    engine.dispose()
    return out


def _batches(count: int, accounts: list[tuple[int, str]], now: datetime) -> Any:
    """(complaints, timeline entries, actions) per batch; complaint ids are 1..count in order."""
    rng = random.Random(11)
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(accounts))]
    h = timedelta(hours=1)
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for n in range(1, count + 1):
        account_id, channel = rng.choices(accounts, weights)[0]
        # complaints arrive in time order (as they are stored in production), a little jitter
        complained = now - timedelta(seconds=365 * 86400 * (1 - n / count) + rng.uniform(0, 600))
        roll = rng.random()
        status = (
            "resolved" if roll < 0.82 else "closed" if roll < 0.90 else "responded" if roll < 0.95 else "open"
        )
        finished = status in ("resolved", "closed")
        replied = complained + h * rng.uniform(0.2, 30) if rng.random() < 0.92 else None
        resolved = complained + h * rng.uniform(2, 120) if finished else None
        refund = rng.random() < 0.2
        rows.append({
            "channel": channel, "account_id": account_id, "merchant_account_id": account_id,
            "merchant_id": f"m{account_id}", "external_id": f"{300000000000 + n}", "status": status,
            "raw_status": status.upper(), "problem_type": rng.choice(PROBLEMS),
            "problem_description": "商品一直没有发货", "detail": "", "amount_fen": 9900,
            "refund_amount_fen": 9900 if refund else None, "orders": [], "complained_at": complained,
            "created_at": complained, "updated_at": resolved or replied or complained,
            "refund_requested": refund, "sla_state": "ok" if finished else rng.choice(query.SLA_STATES),
            "first_response_at": replied, "resolved_at": resolved,
            "complaint_times": 1 if rng.random() < 0.85 else rng.randint(2, 8),
            "payer_openid": f"o{rng.randrange(600_000):06d}", "payer_phone_masked": "138****0000",
            "media_urls": [], "unknown_values": [], "raw": {},
        })  # fmt: skip
        sla = rng.random()
        for kind in ("sla_warning", "sla_breach") if sla < 0.08 else ("sla_warning",) if sla < 0.18 else ():
            events.append({
                "complaint_id": n, "dedupe_key": f"{kind}:{n}", "source": "system", "kind": kind,
                "actor": "system", "actor_label": "", "occurred_at": complained + 20 * h, "text": "",
                "media_urls": [], "known": True, "raw": {}, "created_at": complained + 20 * h,
            })  # fmt: skip
        if rng.random() < 0.25:
            kind = rng.choice(("reply", "reply", "complete", "refund_approve" if refund else "reply"))
            at = replied or complained + h
            actions.append({
                "id": str(uuid.UUID(int=n)), "complaint_id": n, "seq": 1, "account_id": account_id,
                "channel": channel, "kind": kind, "params": {}, "image_refs": [], "status": "sent",
                "requested_by": f"user:agent{rng.randrange(12)}", "created_at": at, "updated_at": at,
                "sent_at": at,
            })  # fmt: skip
        if len(rows) == BATCH:
            yield rows, events, actions
            rows, events, actions = [], [], []
    if rows:
        yield rows, events, actions


def seed(url: str, count: int) -> float:
    """Fill an empty database; returns the seconds it took."""
    started = time.perf_counter()
    accounts = _accounts(url)
    engine = make_engine(url, pool_size=0)
    with engine.begin() as connection:
        search.uninstall(connection)
    now = datetime.now(UTC)
    loaded = 0
    with engine.begin() as connection:
        for rows, events, actions in _batches(count, accounts, now):
            connection.execute(insert(Complaint.__table__), rows)  # type: ignore[arg-type]
            if events:
                connection.execute(insert(TimelineEntry.__table__), events)  # type: ignore[arg-type]
            if actions:
                connection.execute(insert(OutboundAction.__table__), actions)  # type: ignore[arg-type]
            loaded += len(rows)
            if loaded % 200_000 == 0:
                print(f"  {loaded:,} complaints …", flush=True)
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - started


def roll_up(url: str) -> str:
    """Bring the daily roll-up up to date, as ``complaintdesk reports refresh`` or its periodic job do."""
    engine = make_engine(url)
    started = time.perf_counter()
    with make_session_factory(engine)() as session:
        days = rollup.refresh(session, now=datetime.now(UTC))
        session.commit()
    engine.dispose()
    return f"{len(days)} days rolled up in {time.perf_counter() - started:.1f} s"


def time_dashboard(url: str, repeat: int) -> list[list[str]]:
    """p50/p95 of the dashboard's work (every KPI, the charts and the tables)."""
    engine = make_engine(url, pool_size=2)
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    with sessions() as s:
        merchant = s.scalar(select(MerchantAccount.id).where(MerchantAccount.name == "bench-03"))
    cases = [
        ("30 days, all accounts", {"period": "30d"}),
        ("30 days, one merchant", {"period": "30d", "account": str(merchant)}),
        ("1 year, all accounts", {"period": "365d"}),
        ("1 year, one merchant", {"period": "365d", "account": str(merchant)}),
    ]
    out: list[list[str]] = []
    with sessions() as s:
        for name, params in cases:
            filters = report_filters.parse(params, now=now)

            def dashboard(f: report_filters.ReportFilters = filters) -> int:
                report = kpis.compute(s, f, true())
                charts(report)
                tables(report)
                return report.total

            total = dashboard()  # warm-up
            times: list[float] = []
            for _ in range(repeat):
                started = time.perf_counter()
                dashboard()
                times.append((time.perf_counter() - started) * 1000)
                s.rollback()
            times.sort()
            out.append(
                [name, f"{total:,}", f"{statistics.median(times):.0f}", f"{percentile(times, 95):.0f}"]
            )
    engine.dispose()
    return out


def export_child(url: str, fmt: str, path: str) -> None:
    """In a child process: export every complaint (all statuses, newest first) to ``path``."""
    engine = make_engine(url, pool_size=0)
    with make_session_factory(engine)() as session:
        filters = query.InboxFilters(status="", sort="newest")
        statement = export.inbox_statement(session, filters, true(), None)
        rows = export.complaint_rows(session, statement, export.RowContext.load(session))
        count = 0

        def counted() -> Any:
            nonlocal count
            for row in rows:
                count += 1
                yield row

        with open(path, "wb") as handle:
            for chunk in export.chunks(fmt, export.COLUMNS, counted()):
                handle.write(chunk)
    engine.dispose()
    print(count)


def time_export(url: str, workdir: Path, formats: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    for fmt in formats:
        path = workdir / f"export.{fmt}"
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--export-child", url, fmt, str(path)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, the largest child so far
        rows = int(done.stdout.strip().splitlines()[-1])
        note = "" if peak > before else " (≤ earlier child)"
        out.append(
            [
                fmt,
                f"{rows:,}",
                f"{seconds:.1f}",
                f"{peak / 1024:.0f}{note}",
                f"{path.stat().st_size / 1e6:.0f}",
            ]
        )
        path.unlink()
    return out


def run(url: str, rows: int, repeat: int, workdir: Path, formats: list[str]) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        have = session.scalar(select(func.count()).select_from(Complaint)) or 0
    engine.dispose()
    if have < rows:
        if have:
            raise SystemExit(f"{url}: has {have:,} complaints, fewer than {rows:,}; use an empty database")
        print(f"  seeding {rows:,} complaints …", flush=True)
        print(f"  seeded in {seed(url, rows):.0f} s")
    else:
        print(f"  {have:,} complaints already seeded")
    print(f"  roll-up: {roll_up(url)}", flush=True)
    print(
        table(
            ["dashboard (KPIs + charts + tables)", "complaints", "p50 ms", "p95 ms"],
            time_dashboard(url, repeat),
        )
    )
    if formats:
        figures = time_export(url, workdir, formats)
        print(table(["export, every complaint", "rows", "seconds", "peak RSS MB", "file MB"], figures))


def kept_postgres(name: str) -> str:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--export-child":
        export_child(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--backend", default="sqlite,postgresql")
    parser.add_argument(
        "--keep-sqlite", type=Path, help="keep (and reuse) the seeded SQLite file at this path"
    )
    parser.add_argument("--keep-postgres", help="keep (and reuse) a PostgreSQL database of this name")
    parser.add_argument("--export", default="csv,xlsx", help="export formats to time (csv, xlsx) or none")
    args = parser.parse_args()
    formats = [] if args.export == "none" else parse_list(args.export, export.FORMATS)
    for backend in parse_list(args.backend, BACKENDS):
        print(f"\n== {backend}, {args.rows:,} complaints", flush=True)
        with TemporaryDirectory(prefix="cd-reports-bench-") as tmp:
            if backend == "sqlite" and args.keep_sqlite:
                run(f"sqlite:///{args.keep_sqlite}", args.rows, args.repeat, Path(tmp), formats)
                continue
            if backend == "postgresql" and args.keep_postgres:
                run(kept_postgres(args.keep_postgres), args.rows, args.repeat, Path(tmp), formats)
                continue
            try:
                with database(backend, Path(tmp)) as db:
                    run(db.url, args.rows, args.repeat, Path(tmp), formats)
            except BackendUnavailable as exc:
                print(f"  skipped: {exc}")


if __name__ == "__main__":
    main()
