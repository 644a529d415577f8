"""``/metrics`` of ``serve --workers 2`` after a burst: the counters of both processes add up.

A real server (two uvicorn worker processes sharing the multiprocess directory under ``data_dir``)
receives signed notifications over loopback: new ones, the same ones again (duplicates), ones
whose signature was tampered with and ones for an account that does not exist. A scrape with the
token must count each exactly once, whichever process answered it; a scrape without it is refused.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.harness import keys
from tests.e2e.test_crash import add_shop, free_port, start_server

from complaintdesk.sandbox.wechatpay import SimulatorState
from complaintdesk.sandbox.wechatpay.model import Notification
from complaintdesk.sandbox.wechatpay.notifier import notification_body, notification_headers

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TOKEN = "metrics-token-0123456789abcdef"
NEW = 300
DUPLICATES = 120
TAMPERED = 40
UNKNOWN = 25


def write_config(tmp_path: Path, db_url: str, port: int) -> Path:
    key_file = tmp_path / "data_key"
    key_file.write_text("k" * 48, encoding="utf-8")
    token_file = tmp_path / "metrics_token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    config = tmp_path / "complaintdesk.toml"
    config.write_text(
        "\n".join(
            [
                f'database_url = "{db_url}"',
                f'data_key_file = "{key_file}"',
                f'data_dir = "{tmp_path / "var"}"',
                f"port = {port}",
                "log_json = true",
                "[metrics]",
                f'token_file = "{token_file}"',
                "cache_seconds = 0",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return config


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def total(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(
        value
        for (sample, have), value in found.items()
        if sample == name and all((k, v) in have for k, v in labels.items())
    )


async def test_a_scrape_after_a_burst_against_two_workers_adds_up(db_url: str, tmp_path: Path) -> None:
    platform, shop, _ = keys()
    add_shop(db_url, tmp_path)
    port = free_port()
    server = start_server(write_config(tmp_path, db_url, port), port, workers=2)
    try:
        state = SimulatorState(platform=platform)
        state.register_merchant(shop)
        bodies = []
        for i in range(NEW):
            n = Notification(
                id=f"metrics-{i}",
                complaint_id=f"2002018202612{i:014d}",
                action_type="CREATE_COMPLAINT",
                mchid=shop.mchid,
                create_time=datetime.now(UTC),
            )
            bodies.append(notification_body(state, n))
        calls: list[tuple[str, bytes, dict[str, str]]] = []
        shop_url = f"http://127.0.0.1:{port}/webhooks/wechatpay/shop"
        calls += [(shop_url, body, notification_headers(state, body)) for body in bodies]
        calls += [(shop_url, body, notification_headers(state, body)) for body in bodies[:DUPLICATES]]
        for body in bodies[:TAMPERED]:
            headers = notification_headers(state, body)
            calls.append((shop_url, body.replace(b'"id"', b'"id" ', 1), headers))  # signed bytes changed
        nobody = f"http://127.0.0.1:{port}/webhooks/wechatpay/nobody"
        calls += [(nobody, body, notification_headers(state, body)) for body in bodies[:UNKNOWN]]

        statuses: list[int] = []
        pending = list(calls)

        async def sender(client: httpx.AsyncClient) -> None:
            while pending:
                url, body, headers = pending.pop()
                statuses.append((await client.post(url, content=body, headers=headers)).status_code)

        async with httpx.AsyncClient(timeout=10.0, limits=httpx.Limits(max_connections=32)) as client:
            await asyncio.gather(*(sender(client) for _ in range(32)))
            assert statuses.count(204) == NEW + DUPLICATES
            assert len(statuses) == len(calls)

            metrics_url = f"http://127.0.0.1:{port}/metrics"
            assert (await client.get(metrics_url)).status_code == 401
            wrong = await client.get(metrics_url, headers={"Authorization": "Bearer not-the-token-at-all"})
            assert wrong.status_code == 401
            answer = await client.get(metrics_url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        found = samples(answer.text)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert server.stderr is not None
    log_lines = [json.loads(line) for line in server.stderr.read().decode().splitlines() if line.strip()]

    name = "complaintdesk_notifications_total"
    assert total(found, name, channel="wechatpay", result="stored") == NEW
    assert total(found, name, channel="wechatpay", result="duplicate") == DUPLICATES
    assert total(found, name, channel="wechatpay", result="refused", reason="SignatureInvalid") == TAMPERED
    assert total(found, name, channel="wechatpay", result="refused", reason="UnknownAccount") == UNKNOWN
    assert total(found, name) == len(calls)  # stored + duplicate + refused: every call once
    # Jobs are off with --workers 2: everything stored is still waiting, and the gauges say so.
    assert total(found, "complaintdesk_inbox_pending", channel="wechatpay") == NEW
    assert total(found, "complaintdesk_inbox_lag_seconds", channel="wechatpay") >= 0
    assert total(found, "complaintdesk_database_up") == 1
    # The counts live in the per-process files under data_dir (how the load was spread over the two
    # workers is the kernel's choice: tests/unit/test_metrics_multiprocess.py adds up two for sure).
    assert list((tmp_path / "var" / "metrics").glob("counter_*.db"))
    # Every process's log lines are JSON, uvicorn's included; refusals carry their context.
    refusals = [line for line in log_lines if line["message"].startswith("notification refused for shop")]
    assert len(refusals) == TAMPERED
    assert {(r["level"], r["logger"], r["channel"], r["account"]) for r in refusals} == {
        ("warning", "complaintdesk.webhook", "wechatpay", "shop")
    }
    assert all(r["request_id"] for r in refusals)
    assert any(line["logger"].startswith("uvicorn") for line in log_lines)
