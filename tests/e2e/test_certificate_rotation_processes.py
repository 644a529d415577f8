"""Certificate rotation followed by two real ``complaintdesk serve`` processes on one PostgreSQL database.

The simulator rotates its platform certificate (both listed, the new one signs), then retires the old one.
Serve process 1 meets the new serial first: it refuses the notification, downloads the list and stores it;
WeChat Pay's retry is accepted. Serve process 2 then meets the same serial: it takes the certificate from
the database (no second download) and accepts the retry too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.e2e.cluster import Cluster, Spec
from tests.e2e.harness import keys

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]


@pytest.fixture
async def cluster(db_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    if not db_url.startswith("postgresql"):
        pytest.skip("the cluster harness runs its processes on PostgreSQL (tests/e2e/cluster.py)")
    cluster = Cluster(db_url, tmp_path, Spec(serves=2, workers=0, latency=(0.0, 0.0)), keys=keys())
    try:
        await cluster.start()
        yield cluster
    finally:
        await cluster.aclose()


async def _until_events(cluster: Cluster, count: int) -> None:
    """Wait (bounded) until ``count`` notifications are stored; fails with the processes' logs."""
    deadline = time.monotonic() + 120
    while await asyncio.to_thread(cluster.scalar, "SELECT count(*) FROM inbox_event") < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{count} notifications never stored\n{cluster.logs()}")
        await asyncio.sleep(0.1)


async def test_two_serve_processes_follow_a_rotation(cluster: Cluster) -> None:
    shop = cluster.shop.mchid
    to_process = [f"{cluster.api(i)}/webhooks/wechatpay/shop" for i in (0, 1)]
    cluster.state.set_notify_url(shop, to_process[1])
    cluster.state.create_complaint(shop)  # process 2 starts with the configured certificate only
    await _until_events(cluster, 1)

    old = cluster.platform.serial_no
    new = cluster.state.certificates.rotate().serial_no
    cluster.state.set_notify_url(shop, to_process[0])
    cluster.state.create_complaint(shop)  # process 1 meets the new serial first
    await _until_events(cluster, 2)
    stored = await asyncio.to_thread(
        cluster.rows,
        "SELECT c.serial_no FROM platform_certificate c JOIN merchant_account a ON a.id = c.account_id"
        " WHERE a.name = 'shop'",
    )
    assert {row[0] for row in stored} == {old, new}

    cluster.state.certificates.retire(old)
    cluster.state.set_notify_url(shop, to_process[1])
    cluster.state.create_complaint(shop)  # process 2 meets it now
    await _until_events(cluster, 3)
    assert cluster.state.stats.calls["certificates"] == 1  # process 2 took it from the database
    retried = [n for n in cluster.state.notifications if n.attempts > 1]
    assert len(retried) == 2  # each process refused the unknown serial once, then accepted the retry
