"""What a notification costs at the least: the steps no ingest path can skip, measured one by one.

``bench/ingest.py`` measures the whole path against the typical Flask handler. This script measures
the parts of it that any verify-then-store path must pay, so a reader can tell how far a same-run
multiple can go on a machine:

* the load generator's own CPU per request (it shares the machine with the server);
* the HTTP floor: server CPU per request of a do-nothing 204 responder (loopback TCP, one read and
  one write per request, no parsing beyond the request's length);
* the SHA256withRSA signature check and the AES-256-GCM opening, through complaintdesk's own
  ``verify_and_open`` (the RSA check alone too);
* the SQLite insert and commit of an inbox row, with the inbox writer's own statement and schema, in
  batches of 16 (what two server processes commit at a time at full speed, or more).

It then prints the CPU a notification may cost in the server for a given multiple of the baseline
(``--baseline-rate``, the same run's baseline figure from ``bench/ingest.py --baseline``) on this
machine's cores, next to the sum of the floors.

Run from the repository root::

    .venv/bin/python bench/ingest_floor.py --baseline-rate 3438

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from common import table
from ingest import CpuMeter, PhaseResult, build_post, drive, free_port, subprocess_server, summarise

from complaintdesk.channels.base import OpenedNotification
from complaintdesk.channels.wechatpay.crypto import VerifierKeys
from complaintdesk.channels.wechatpay.webhook import verify_and_open
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.inbox.driver import DriverInsert
from complaintdesk.core.inbox.service import build_row
from complaintdesk.db import make_engine, make_session_factory, unit_of_work
from complaintdesk.migrate import upgrade
from complaintdesk.sandbox.wechatpay import SimulatorState, generate_merchant, generate_platform
from complaintdesk.sandbox.wechatpay.model import Notification
from complaintdesk.sandbox.wechatpay.notifier import notification_body, notification_headers

INGEST = Path(__file__).resolve().parent / "ingest.py"
CONNECTIONS = 64


def cpu_per_call(fn: Callable[[int], object], count: int) -> float:
    """Process CPU µs per call of ``fn(i)`` for ``i`` in ``range(count)`` (after a short warm-up)."""
    for i in range(min(count, 200)):
        fn(i)
    started = time.process_time()
    for i in range(count):
        fn(i)
    return (time.process_time() - started) / count * 1e6


def notifications(count: int) -> tuple[list[tuple[bytes, dict[str, str]]], VerifierKeys, bytes]:
    """Signed and encrypted notifications (the simulator's code), the platform key set and APIv3 key."""
    platform, merchant = generate_platform(), generate_merchant("1900000109")
    state = SimulatorState(platform=platform)
    state.register_merchant(merchant)
    out = []
    for seq in range(count):
        note = Notification(
            id=str(uuid.uuid4()),
            complaint_id=f"200020261206{seq:015d}",
            action_type="CREATE_COMPLAINT",
            mchid=merchant.mchid,
            create_time=state.now(),
        )
        body = notification_body(state, note)
        out.append((body, {k.lower(): v for k, v in notification_headers(state, body).items()}))
    keys = VerifierKeys()
    keys.add_certificate(platform.certificate_pem)
    return out, keys, merchant.apiv3_key.encode("ascii")


def crypto_floors(count: int) -> tuple[float, float, list[tuple[bytes, OpenedNotification]]]:
    """µs per notification of the RSA check alone, and of the whole verify-and-open."""
    signed, keys, apiv3 = notifications(count)
    now = time.time()

    def rsa(i: int) -> None:
        body, headers = signed[i % count]
        message = f"{headers['wechatpay-timestamp']}\n{headers['wechatpay-nonce']}\n".encode() + body + b"\n"
        keys.verify(headers["wechatpay-serial"], message, headers["wechatpay-signature"])

    opened: list[tuple[bytes, OpenedNotification]] = []

    def open_one(i: int) -> None:
        body, headers = signed[i % count]
        result = verify_and_open(body, headers, keys=keys, apiv3_key=apiv3, now=now)
        if len(opened) < count:
            opened.append((body, result))

    return cpu_per_call(rsa, count), cpu_per_call(open_one, count), opened


def sqlite_floor(opened: list[tuple[bytes, OpenedNotification]], batch: int, rows: int) -> float:
    """µs per row of the inbox INSERT and its commit on SQLite (WAL), ``batch`` rows a commit."""
    with tempfile.TemporaryDirectory(prefix="cd-floor-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'floor.db'}")
        upgrade(engine)
        with unit_of_work(make_session_factory(engine)) as session:  # the rows' account (a foreign key)
            account = MerchantAccount(name="shop", channel="wechatpay", mchid="1900000109")
            session.add(account)
            session.flush()
            account_id = account.id
        insert = DriverInsert(engine)
        raw = engine.raw_connection()
        cursor = raw.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        received = datetime.now(UTC)
        template = [
            build_row(
                channel="wechatpay",
                account_id=account_id,
                opened=opened_one,
                raw_body=body,
                received_at=received,
                raw_body_plaintext=False,
            )
            for body, opened_one in opened
        ]
        batches = []
        for start in range(0, rows, batch):
            chunk = [dict(template[i % len(template)]) for i in range(start, start + batch)]
            for row in chunk:
                row["dedupe_key"] = str(uuid.uuid4())  # every row new, as at full speed
            batches.append(chunk)
        started = time.process_time()
        for chunk in batches:
            sql, params = insert.sqlite_batch(chunk)
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(sql, params)
            raw.commit()
        spent = time.process_time() - started
        cursor.close()
        raw.close()
        engine.dispose()
    return spent / rows * 1e6


def http_floor(sample: bytes, count: int) -> tuple[PhaseResult, float]:
    """The do-nothing responder at full speed: its result (with its CPU) and the client's CPU µs/request."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="cd-floor-") as tmp:
        command = [sys.executable, str(INGEST), "--serve-sink", str(port)]
        with subprocess_server(command, port, Path(tmp) / "sink.log") as proc:
            meter = CpuMeter(os.getpgid(proc.pid), postgres=False)
            client_started = time.process_time()
            result = summarise(drive(port, [sample] * count, CONNECTIONS))
            client = (time.process_time() - client_started) / max(1, result.ok) * 1e6
            meter.read(result)
    return result, client


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--baseline-rate", type=float, help="the same run's baseline figure (/s)")
    parser.add_argument("--count", type=int, default=4000, help="distinct notifications")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    rsa, opening, opened = crypto_floors(args.count)
    sqlite16 = sqlite_floor(opened, 16, 40 * args.count // 4)
    body, headers = notifications(1)[0][0]
    request = build_post("/webhooks/wechatpay/shop", headers, body)
    sink, client = http_floor(request, 20 * args.count)
    floor = sink.cpu_per_ack + opening + sqlite16
    print(f"machine: {cores} cores; {args.count:,} notifications; CPU µs per notification (process time)\n")
    print(
        table(
            ["step", "CPU µs"],
            [
                ["load generator, per request (runs beside the server)", f"{client:.1f}"],
                ["HTTP floor: a do-nothing 204 responder's server CPU", f"{sink.cpu_per_ack:.1f}"],
                ["SHA256withRSA check alone (cryptography)", f"{rsa:.1f}"],
                ["verify_and_open: RSA check + AES-256-GCM + JSON", f"{opening:.1f}"],
                ["SQLite inbox INSERT + commit, 16 rows a commit", f"{sqlite16:.1f}"],
                ["sum of the server's floors (HTTP + open + SQLite)", f"{floor:.1f}"],
            ],
        )
    )
    if args.baseline_rate:
        print()
        for multiple in (5, 8):
            rate = multiple * args.baseline_rate
            budget = cores * 1e6 / rate - client
            print(
                f"{multiple}× {args.baseline_rate:,.0f}/s = {rate:,.0f}/s on {cores} cores leaves"
                f" {budget:.1f} µs of server CPU per notification; the floors take {floor:.1f} µs,"
                f" {budget - floor:.1f} µs remain for everything else (HTTP parsing, routing, the row,"
                " the batch, the answer)"
            )


if __name__ == "__main__":
    main()
