"""Helpers shared by the benchmarks: databases, merchant accounts, percentiles and tables.

Nothing here is measured; it only sets the stage. Keys are generated at run time and written to a
temporary directory that is removed afterwards.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.inbox.models import InboxEvent
from complaintdesk.db import make_engine, make_session_factory, unit_of_work
from complaintdesk.migrate import upgrade
from complaintdesk.sandbox.wechatpay import MerchantCredentials, PlatformKeys, write_merchant_files

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Database:
    """A migrated, empty database the benchmark may fill."""

    backend: str
    url: str  # SQLAlchemy URL (``sqlite:///…`` or ``postgresql+psycopg://…``)


class BackendUnavailable(Exception):
    """The requested database cannot be used; the message says why."""


def parse_list(raw: str, allowed: Sequence[str] | None = None) -> list[str]:
    """Split ``a,b`` into ``["a", "b"]``; refuse values outside ``allowed``."""
    values = [v.strip() for v in raw.split(",") if v.strip()]
    if not values:
        raise ValueError("expected at least one value")
    if allowed is not None:
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise ValueError(f"unknown value(s) {', '.join(unknown)}; expected {', '.join(allowed)}")
    return values


@contextlib.contextmanager
def database(backend: str, workdir: Path) -> Iterator[Database]:
    """A migrated empty database: a SQLite file (WAL) in ``workdir`` or a throwaway PostgreSQL database.

    PostgreSQL databases are named ``complaintdesk_bench_<random>`` and dropped on exit, whatever
    happened. Raises ``BackendUnavailable`` when PostgreSQL cannot be reached.
    """
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield Database("sqlite", url)
        return
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r}")
    name = f"complaintdesk_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        first_line = str(exc).splitlines()[0][:160] if str(exc) else ""
        raise BackendUnavailable(
            f"PostgreSQL not reachable at {PG_ADMIN_URL.split('@')[-1]} ({type(exc).__name__}: {first_line})"
        ) from exc
    try:
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        engine = make_engine(url, pool_size=0)
        upgrade(engine)
        engine.dispose()
        yield Database("postgresql", url)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def add_merchant_account(
    db_url: str,
    name: str,
    merchant: MerchantCredentials,
    platform: PlatformKeys,
    directory: Path,
    *,
    api_base_url: str | None = None,
) -> None:
    """Store a direct-merchant account whose secrets are files in ``directory`` (mode 0600)."""
    files = write_merchant_files(directory, merchant, platform)
    engine = make_engine(db_url, pool_size=0)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            account_service.create(
                session=session,
                name=name,
                channel="wechatpay",
                mchid=merchant.mchid,
                merchant_serial=merchant.serial_no,
                private_key_ref=f"file:{files['private_key']}",
                merchant_cert_ref=f"file:{files['certificate']}",
                apiv3_key_ref=f"file:{files['apiv3_key']}",
                platform_cert_refs=[f"file:{files['platform_certificate']}"],
                public_key_id=platform.public_key_id,
                public_key_ref=f"file:{files['public_key']}",
                **({"api_base_url": api_base_url} if api_base_url else {}),
            )
    finally:
        engine.dispose()


def stored_inbox_keys(db_url: str) -> tuple[int, set[str]]:
    """Number of ``inbox_event`` rows and their ``dedupe_key`` values."""
    engine = make_engine(db_url, pool_size=0)
    try:
        with engine.connect() as conn:
            count = int(conn.scalar(select(func.count()).select_from(InboxEvent)) or 0)
            keys = set(conn.scalars(select(InboxEvent.dedupe_key)))
    finally:
        engine.dispose()
    return count, keys


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in [0, 100]) of already sorted values; NaN when empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain monospace table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def ms(seconds: float) -> str:
    """Seconds as milliseconds with one decimal ("-" for NaN)."""
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f}"
