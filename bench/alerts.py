"""Benchmark: alerts delivered by real ``complaintdesk worker`` processes to real receivers on loopback.

For each database (``--backend sqlite,postgresql``): a fresh database, ``--workers`` worker processes
(procrastinate on PostgreSQL; on SQLite one embedded runner works and the others stand by), the test
suite's receivers (``tests/alert_receivers.py``: WeCom, DingTalk and Feishu robots that check their
signatures, a generic webhook, a Standard Webhooks endpoint verified with ``standardwebhooks``, and an
aiosmtpd SMTP server). Three phases:

1. **Latency**: ``--events`` events, one transaction each, ``--gap`` seconds apart, to the merchant's
   endpoint (one message per event). p50 / p95 from the event's commit to the endpoint accepting it.
2. **Throughput**: ``--burst`` events committed at once to the endpoint: events per second from
   the commit to the last one accepted.
3. **Breach storm**: ``--complaints`` complaints past their reply deadline, evaluated in one
   transaction: each chat destination (WeCom, DingTalk, Feishu, webhook, e-mail) must get one digest
   (counts plus ``digest_lines`` lines), not one message per complaint. Prints messages per
   destination, events per digest, and commit → digest received.

    .venv/bin/python bench/alerts.py --backend sqlite,postgresql
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # the receivers of the tests

from common import BackendUnavailable, database, parse_list, percentile, table
from sqlalchemy import select
from tests.alert_receivers import Receiver, http_receiver, smtp_server

from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.alerts import events
from complaintdesk.core.alerts import service as alert_service
from complaintdesk.core.alerts.models import AlertEvent
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.sla import service as sla_service
from complaintdesk.db import make_engine, make_session_factory, unit_of_work
from complaintdesk.security import DataCipher
from complaintdesk.settings import AlertSettings, SlaSettings

KEY = "b" * 48
CHATS = (("wecom", ""), ("dingtalk", "SEC-ding"), ("feishu", "SEC-feishu"), ("webhook", ""))


def _config(tmp: Path, db_url: str, burst: int) -> Path:
    key_file = tmp / "data_key"
    key_file.write_text(KEY, encoding="utf-8")
    config = tmp / "complaintdesk.toml"
    config.write_text(
        "\n".join([
            f'database_url = "{db_url}"', f'data_key_file = "{key_file}"', "run_jobs_in_process = false",
            "job_poll_seconds = 0.05", "[sync]\nenabled = false", "[sla]\nevaluate_interval_seconds = 3600",
            "[jobs]\nscheduled_poll_seconds = 0.2\nsweep_seconds = 5",
            f"[alerts]\nbatch_size = {max(burst, 1000)}\nmin_interval_seconds = 60\ndigest_lines = 20", "",
        ]),
        encoding="utf-8",
    )  # fmt: skip
    return config


def _complaint(account_id: int, mchid: str, i: int, at: datetime) -> Complaint:
    return Complaint(
        channel="wechatpay", account_id=account_id, merchant_account_id=account_id, merchant_id=mchid,
        external_id=f"BENCH{i:06d}", status="open", raw_status="PENDING", complained_at=at, orders=[],
        media_urls=[], unknown_values=[], raw={}, created_at=at, updated_at=at, amount_fen=990,
    )  # fmt: skip


def _wait(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def one_run(db_url: str, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    engine = make_engine(db_url, pool_size=0)
    sessions = make_session_factory(engine)
    cipher = DataCipher(KEY.encode())
    settings = AlertSettings()
    chats = {kind: http_receiver(secrets={kind: secret} if secret else {}) for kind, secret in CHATS}
    endpoint_rx = http_receiver()
    mail = smtp_server()
    receivers: dict[str, Receiver] = {kind: cm.__enter__() for kind, cm in chats.items()}
    endpoint = endpoint_rx.__enter__()
    smtp_port, mails = mail.__enter__()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with unit_of_work(sessions) as s:
            shop = account_service.create(session=s, name="shop", channel="wechatpay", mchid="1900000001")
            shop_id, mchid = shop.id, shop.mchid
            probe = _complaint(shop_id, mchid, 0, datetime.now(UTC))
            probe.sla_next_check_at = datetime.now(UTC) + timedelta(days=30)
            s.add(probe)
            s.flush()
            probe_id = probe.id
            ep = alert_service.add_destination(
                session=s, cipher=cipher, settings=settings, name="erp", kind="endpoint",
                url=endpoint.url("endpoint"), account_id=shop_id,
            )  # fmt: skip
            alert_service.add_rule(session=s, destination_id=ep.id, events=["new_complaint"])
            endpoint.secrets["endpoint"] = cipher.decrypt(ep.secret_enc)
            for kind, secret in CHATS:
                dest = alert_service.add_destination(
                    session=s, cipher=cipher, settings=settings, name=kind, kind=kind,
                    url=receivers[kind].url(kind), secret=secret,
                )  # fmt: skip
                alert_service.add_rule(session=s, destination_id=dest.id, events=["sla_breach"])
            mail_dest = alert_service.add_destination(
                session=s, cipher=cipher, settings=settings, name="mail", kind="email",
                options={"host": "127.0.0.1", "port": smtp_port, "to": ["ops@example.com"]},
            )  # fmt: skip
            alert_service.add_rule(session=s, destination_id=mail_dest.id, events=["sla_breach"])
        config = _config(tmp, db_url, args.complaints)
        env = {**os.environ, "COMPLAINTDESK_CONFIG": str(config)}
        for _ in range(args.workers):
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "complaintdesk.cli.main", "worker"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )

        def record(n: int, offset: int) -> tuple[float, list[int]]:
            with unit_of_work(sessions) as s:
                c = s.get(Complaint, probe_id)
                assert c is not None
                for i in range(n):
                    events.record(session=s, kind=events.EventKind.NEW_COMPLAINT, key=f"b{offset + i}",
                                  now=datetime.now(UTC), complaint=c)  # fmt: skip
                ids = list(s.scalars(select(AlertEvent.id).order_by(AlertEvent.id.desc()).limit(n)))
            return time.time(), ids

        # warm-up: the workers are up and have sent once (not counted)
        record(1, -1)
        if not _wait(lambda: len(endpoint.accepted) >= 1, args.timeout):
            raise RuntimeError("the workers sent nothing: are they running?")
        warm = len(endpoint.accepted)
        # 1. latency: one event per transaction
        committed: dict[int, float] = {}
        for i in range(args.events):
            at, ids = record(1, i)
            committed[ids[0]] = at
            time.sleep(args.gap)
        _wait(lambda: len(endpoint.accepted) >= warm + args.events, args.timeout)
        pairs = zip(endpoint.accepted, endpoint.accepted_at, strict=True)
        arrived = {body["data"]["event_id"]: t for (_, body, _), t in pairs}
        lat = sorted(arrived[e] - committed[e] for e in committed if e in arrived)
        # 2. throughput: a burst committed at once
        before = len(endpoint.accepted)
        start, _ids = record(args.burst, 10_000_000)
        _wait(lambda: len(endpoint.accepted) >= before + args.burst, args.timeout)
        burst_done = max(endpoint.accepted_at[before:], default=start)
        burst_rate = (len(endpoint.accepted) - before) / max(burst_done - start, 1e-9)
        # 3. breach storm: every complaint past its deadline, evaluated in one transaction
        past = datetime.now(UTC) - timedelta(hours=25)
        with unit_of_work(sessions) as s:
            s.add_all([_complaint(shop_id, mchid, i + 1, past) for i in range(args.complaints)])
        with unit_of_work(sessions) as s:
            while sla_service.evaluate_all(session=s, now=datetime.now(UTC), limit=args.complaints * 2,
                                           settings=SlaSettings()):  # fmt: skip
                pass
        storm = time.time()
        done = _wait(lambda: all(r.accepted for r in receivers.values()) and bool(mails), args.timeout)
        time.sleep(2.0)  # anything more that would arrive (nothing should within the rate limit)
        with unit_of_work(sessions) as s:
            breaches = len(s.scalars(select(AlertEvent.id).where(AlertEvent.kind == "sla_breach")).all())
        per_dest = {k: len(r.accepted) for k, r in receivers.items()} | {"email": len(mails)}
        first = [r.texts(k)[0] for k, r in receivers.items() if r.accepted]
        counted = [int(m.group(1)) for t in first if (m := re.search(r"汇总】(\d+)", t))]
        firsts = [r.accepted_at[0] for r in receivers.values() if r.accepted_at]
        storm_latency = max(firsts, default=storm) - storm
        refused = sum(len(r.refused) for r in receivers.values()) + len(endpoint.refused)
        return {
            "latency": lat, "burst_rate": burst_rate, "breaches": breaches, "per_dest": per_dest,
            "digest_events": counted, "storm_s": storm_latency, "storm_done": done, "refused": refused,
        }  # fmt: skip
    finally:
        for proc in workers:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in workers:
            proc.wait(timeout=30)
        for cm in (*chats.values(), endpoint_rx):
            cm.__exit__(None, None, None)
        mail.__exit__(None, None, None)
        engine.dispose()


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--backend", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--workers", type=int, default=2, help="complaintdesk worker processes")
    parser.add_argument("--events", type=int, default=200, help="latency phase: events, one per commit")
    parser.add_argument("--gap", type=float, default=0.02, help="latency phase: seconds between events")
    parser.add_argument("--burst", type=int, default=1000, help="throughput phase: events at once")
    parser.add_argument("--complaints", type=int, default=1000, help="breach storm: complaints breaching")
    parser.add_argument("--timeout", type=float, default=180.0, help="longest wait of each phase, s")
    args = parser.parse_args()
    rows = []
    for backend in parse_list(args.backend, ["sqlite", "postgresql"]):
        print(f"{backend}: {args.workers} workers …", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                with database(backend, Path(tmp)) as db:
                    r = one_run(db.url, Path(tmp), args)
            except BackendUnavailable as exc:
                print(f"skipped: {exc}")
                continue
        lat = r["latency"]
        messages = ", ".join(f"{k} {n}" for k, n in r["per_dest"].items())
        rows.append([
            backend, f"{len(lat)}/{args.events}", f"{percentile(lat, 50) * 1000:.0f}",
            f"{percentile(lat, 95) * 1000:.0f}", f"{r['burst_rate']:.0f}", str(r["breaches"]), messages,
            "/".join(str(n) for n in r["digest_events"]), f"{r['storm_s']:.2f}", str(r["refused"]),
        ])  # fmt: skip
        print(f"  breach storm done: {r['storm_done']}", flush=True)
    headers = ["database", "latency events", "p50 ms", "p95 ms", "endpoint events/s", "breaches",
               "messages per destination", "events per digest", "storm → digest s", "refused"]  # fmt: skip
    print()
    print(table(headers, rows))


if __name__ == "__main__":
    main()
