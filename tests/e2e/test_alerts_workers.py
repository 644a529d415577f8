"""Two real worker processes on PostgreSQL: each SLA warning and breach reaches each chat exactly once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.alert_receivers import Receiver, http_receiver

from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.alerts import service as alert_service
from complaintdesk.core.alerts.models import AlertDelivery, AlertEvent
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.sla import service as sla_service
from complaintdesk.db import make_engine, make_session_factory, unit_of_work
from complaintdesk.migrate import upgrade
from complaintdesk.security import DataCipher
from complaintdesk.settings import AlertSettings, Settings

pytestmark = pytest.mark.slow
KEY = "k" * 48
_LINE = re.compile(r"(投诉即将超时|投诉已超时)(?:】)?.*?(EXT\w+)")


def _config(tmp_path: Path, db_url: str) -> Path:
    key_file = tmp_path / "data_key"
    key_file.write_text(KEY, encoding="utf-8")
    config = tmp_path / "complaintdesk.toml"
    config.write_text(
        "\n".join(
            [
                f'database_url = "{db_url}"',
                f'data_key_file = "{key_file}"',
                "run_jobs_in_process = false",
                "[sync]\nenabled = false",
                "[sla]\nevaluate_interval_seconds = 1",
                "[jobs]\nscheduled_poll_seconds = 0.2\nsweep_seconds = 2",
                "[alerts]\nbackoff_initial = 0.5\nmin_interval_seconds = 0.5\ndigest_lines = 1000",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return config


def _seen(texts: list[str]) -> list[tuple[str, str]]:
    """(event title, complaint) for every event named in the messages (single ones and digests)."""
    found: list[tuple[str, str]] = []
    for text in texts:
        lines = text.splitlines()
        if "汇总" in lines[0]:
            found += [
                (m.group(1), m.group(2))
                for line in lines
                if line.startswith("> - ")
                for m in [_LINE.search(line)]
                if m
            ]
        else:
            ext = re.search(r"投诉单号: (EXT\w+)", text)
            title = _LINE.search(lines[0] + (ext.group(1) if ext else ""))
            if title:
                found.append((title.group(1), title.group(2)))
    return found


def _start_worker(config: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "COMPLAINTDESK_CONFIG": str(config)}
    return subprocess.Popen(
        [sys.executable, "-m", "complaintdesk.cli.main", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_two_workers_deliver_each_warning_and_breach_once_through_a_flaky_robot(
    settings: Settings, tmp_path: Path
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("procrastinate workers run on PostgreSQL")
    engine = make_engine(settings.database_url, pool_size=0)
    upgrade(engine)
    sessions = make_session_factory(engine)
    cipher = DataCipher(KEY.encode())
    now = datetime.now(UTC)
    with http_receiver(secrets={"dingtalk": "SEC-d"}, script=["500", "500"]) as rx, http_receiver() as wx:
        with unit_of_work(sessions) as s:
            shop = account_service.create(
                session=s, name="shop", channel="wechatpay", mchid="1900000001", kind="merchant"
            )
            for i in range(12):  # half 30 min before the 24 h deadline, half an hour past it
                age = timedelta(hours=23.5) if i % 2 else timedelta(hours=25)
                s.add(
                    Complaint(
                        channel="wechatpay",
                        account_id=shop.id,
                        merchant_account_id=shop.id,
                        merchant_id=shop.mchid,
                        external_id=f"EXT{i:04d}",
                        status="open",
                        raw_status="PENDING",
                        complained_at=now - age,
                        orders=[],
                        media_urls=[],
                        unknown_values=[],
                        raw={},
                        created_at=now - age,
                        updated_at=now - age,
                    )
                )
            for name, kind, receiver, secret in (
                ("ding", "dingtalk", rx, "SEC-d"),
                ("wecom", "wecom", wx, ""),
            ):
                dest = alert_service.add_destination(
                    session=s,
                    cipher=cipher,
                    settings=AlertSettings(),
                    name=name,
                    kind=kind,
                    url=receiver.url(kind),
                    secret=secret,
                )
                alert_service.add_rule(
                    session=s, destination_id=dest.id, events=["sla_warning", "sla_breach"]
                )
        config = _config(tmp_path, settings.database_url)
        workers = [_start_worker(config), _start_worker(config)]
        try:
            # and this process evaluates the same clocks at the same time, from two threads
            def evaluate() -> None:
                with unit_of_work(sessions) as s:
                    sla_service.evaluate_all(session=s, now=datetime.now(UTC), settings=settings.sla)

            threads = [threading.Thread(target=evaluate) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            _wait_all_sent(sessions, expected=24)
            time.sleep(3)  # more SLA periods pass: nothing new may be sent (not a timing assertion)
            _wait_all_sent(sessions, expected=24)
        finally:
            for proc in workers:
                os.killpg(proc.pid, signal.SIGTERM)
            for proc in workers:
                proc.wait(timeout=30)
        _assert_once(rx, "dingtalk")
        _assert_once(wx, "wecom")
        assert len(rx.requests) - len(rx.accepted) == 2  # the two 500s, then the message once
    with unit_of_work(sessions) as s:
        kinds = sorted(s.scalars(select(AlertEvent.kind)))
        assert kinds == ["sla_breach"] * 6 + ["sla_warning"] * 6
    engine.dispose()


def _wait_all_sent(sessions: object, expected: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with unit_of_work(sessions) as s:  # type: ignore[arg-type]
            statuses = list(s.scalars(select(AlertDelivery.status)))
        if len(statuses) == expected and set(statuses) == {"sent"}:
            return
        time.sleep(0.2)
    raise AssertionError(f"deliveries not all sent: {statuses}")


def _assert_once(receiver: Receiver, kind: str) -> None:
    seen = _seen(receiver.texts(kind))
    expected = {("投诉已超时" if i % 2 == 0 else "投诉即将超时", f"EXT{i:04d}") for i in range(12)}
    assert sorted(seen) == sorted(expected), seen  # every event once, none twice, none missing
