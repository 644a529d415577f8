"""Benchmark: the audit log's CSV export, streamed in chunks versus built whole in memory.

Fills a fresh database with ``--events`` audit events (bulk insert), then exports them twice: with
``audit.iter_csv`` (what ``/admin/audit.csv`` streams) and with ``audit.export_csv`` (one string).
Prints rows per second, the largest chunk, and the peak Python memory of each (tracemalloc).

    .venv/bin/python bench/audit_export.py --events 100000 --backends sqlite,postgresql
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BackendUnavailable, database, parse_list, table

from complaintdesk.clock import utcnow
from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.db import make_engine, make_session_factory, unit_of_work


def _fill(url: str, events: int) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    start = utcnow() - timedelta(days=30)
    batch = 5_000
    for first in range(0, events, batch):
        rows = [
            {
                "at": start + timedelta(seconds=n),
                "actor": f"user{n % 40}",
                "actor_ip": "10.0.0.1",
                "action": "action_requested" if n % 3 else "note_added",
                "target_type": "complaint",
                "target_id": str(n % 5_000),
                "details": {"kind": "reply", "summary": "您好，已为您处理 13812345678"[: 10 + n % 20]},
            }
            for n in range(first, min(first + batch, events))
        ]
        with unit_of_work(sessions) as s:
            s.execute(AuditEvent.__table__.insert(), rows)  # type: ignore[attr-defined]
    engine.dispose()


def _measure(url: str, run: Callable[[object], tuple[int, int]]) -> tuple[float, int, int, int]:
    """(seconds, rows, largest chunk in bytes, peak traced memory in bytes)."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    tracemalloc.start()
    began = time.perf_counter()
    with unit_of_work(sessions) as s:
        lines, largest = run(s)
    took = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    engine.dispose()
    return took, lines - 1, largest, peak


def _streamed(session: object) -> tuple[int, int]:
    lines = largest = 0
    for chunk in audit_service.iter_csv(session=session, limit=10**9):  # type: ignore[arg-type]
        lines += chunk.count("\n")
        largest = max(largest, len(chunk.encode()))
    return lines, largest


def _whole(session: object) -> tuple[int, int]:
    body = audit_service.export_csv(session=session, limit=10**9)  # type: ignore[arg-type]
    return body.count("\n"), len(body.encode())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    rows: list[list[str]] = []
    for backend in parse_list(args.backends, ("sqlite", "postgresql")):
        with tempfile.TemporaryDirectory() as workdir:
            try:
                with database(backend, Path(workdir)) as db:
                    _fill(db.url, args.events)
                    for label, run in (("streamed (iter_csv)", _streamed), ("whole (export_csv)", _whole)):
                        took, count, largest, peak = _measure(db.url, run)
                        rows.append(
                            [
                                f"{backend} {label}",
                                f"{count}",
                                f"{count / took:,.0f}",
                                f"{largest / 1024:,.0f}",
                                f"{peak / 1024 / 1024:,.1f}",
                            ]
                        )
            except BackendUnavailable as exc:
                print(f"{backend}: skipped ({exc})")
    print(table(["export", "rows", "rows/s", "largest piece KiB", "peak MiB"], rows))


if __name__ == "__main__":
    main()
