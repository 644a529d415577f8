"""``/metrics`` in one process: closed by default, the bearer token, its own port, what it counts."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from tests.e2e.harness import Harness, build

from complaintdesk.app import create_app
from complaintdesk.channels.common.metrics import endpoint_of
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.errors import ConfigError
from complaintdesk.ops.collector import DatabaseGauges
from complaintdesk.ops.exporter import serve_on_port
from complaintdesk.runtime import AppContext
from complaintdesk.sandbox.wechatpay import seed
from complaintdesk.settings import MetricsSettings, Settings

pytestmark = pytest.mark.anyio
TOKEN = "a-metrics-token-of-some-length"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def total(found: Samples, name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, have), value in found.items()
        if sample == name and all((k, v) in have for k, v in labels.items())
    )


def with_metrics(settings: Settings, **values: object) -> Settings:
    return settings.model_copy(update={"metrics": MetricsSettings(cache_seconds=0, **values)})  # type: ignore[arg-type]


@pytest.fixture
async def metered(settings: Settings, tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await build(with_metrics(settings, token=TOKEN), tmp_path)
    yield harness
    await harness.aclose()


async def scrape(wx: Harness) -> Samples:
    answer = await wx.desk.get("/metrics", headers=AUTH)
    assert answer.status_code == 200, answer.text
    return samples(answer.text)


async def test_metrics_are_not_served_unless_a_token_or_a_port_is_set(wx: Harness) -> None:
    assert (await wx.desk.get("/metrics")).status_code == 404
    assert (await wx.desk.get("/metrics", headers=AUTH)).status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, f"Basic {TOKEN}", "Bearer", "Bearer a-metrics-token-of-some-lengtH", f"Bearer {TOKEN}x"],
)
async def test_metrics_refuse_a_caller_without_the_token(metered: Harness, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    answer = await metered.desk.get("/metrics", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "complaintdesk" not in answer.text


def test_a_short_token_is_refused_at_start(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        create_app(with_metrics(settings, token="short"), run_jobs=False)


def test_a_token_file_that_cannot_be_read_is_refused_at_start(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="token_file"):
        create_app(with_metrics(settings, token_file=tmp_path / "missing"), run_jobs=False)


async def test_notifications_upstream_calls_and_sla_risk_are_counted(metered: Harness) -> None:
    before = await scrape(metered)
    ids = seed(metered.state, metered.shop.mchid, count=4, days=2)
    await metered.deliver()
    metered.state.faults.fail_next("detail", 429)
    metered.state.faults.fail_next("detail", 503)
    assert await metered.process() > 0
    with metered.ctx.session() as s:
        s.execute(update(Complaint).where(Complaint.external_id == ids[0]).values(sla_state="breached"))
    after = await scrape(metered)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    stored = delta("complaintdesk_notifications_total", channel="wechatpay", result="stored")
    assert stored == len(metered.inbox_keys()) > 0
    detail = "/v3/merchant-service/complaints-v2/{id}"
    assert delta("complaintdesk_upstream_responses_total", endpoint=detail, status="429") == 1
    assert delta("complaintdesk_upstream_responses_total", endpoint=detail, status="5xx") == 1
    assert delta("complaintdesk_upstream_responses_total", endpoint=detail, status="2xx") == len(ids)
    assert delta("complaintdesk_upstream_request_seconds_count", channel="wechatpay", endpoint=detail) == (
        len(ids) + 2
    )
    assert total(after, "complaintdesk_complaints_at_sla_risk", channel="wechatpay", state="breached") == 1
    assert total(after, "complaintdesk_inbox_pending") == 0  # all processed
    # SQLite: the embedded runner's due work (none left). PostgreSQL: procrastinate's jobs, where the
    # fan-out job the inbox writer deferred waits, since no worker runs in this test.
    postgres = metered.ctx.engine.dialect.name == "postgresql"
    assert total(after, "complaintdesk_jobs", queue="inbox", state="todo") == (1 if postgres else 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("token", [TOKEN, None])
async def test_metrics_on_a_port_of_their_own(settings: Settings, tmp_path: Path, token: str | None) -> None:
    port = free_port()
    wx = await build(with_metrics(settings, token=token, port=port), tmp_path)
    server = serve_on_port(wx.app.state.metrics, "127.0.0.1", port)
    try:
        assert (await wx.desk.get("/metrics", headers=AUTH)).status_code == 404  # not on the main port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/other")).status_code == 404
            plain = await client.get("/metrics")
            assert plain.status_code == (401 if token else 200)
            answer = await client.get("/metrics", headers=AUTH)
        assert answer.status_code == 200
        assert total(samples(answer.text), "complaintdesk_database_up") == 1
    finally:
        server.shutdown()
        server.server_close()
        await wx.aclose()


def test_a_scrape_says_when_the_database_cannot_be_read(tmp_path: Path) -> None:
    broken = Settings(database_url=f"sqlite:///{tmp_path}/no/such/dir/x.db", data_key="k" * 40)
    families = {f.name: f for f in DatabaseGauges(AppContext(broken)).collect()}
    assert list(families) == ["complaintdesk_database_up"]
    assert families["complaintdesk_database_up"].samples[0].value == 0


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/v3/merchant-service/complaints-v2", "/v3/merchant-service/complaints-v2"),
        (
            "/v3/merchant-service/complaints-v2/200201820200101080076610000/response",
            "/v3/merchant-service/complaints-v2/{id}/response",
        ),
        ("/v3/merchant-service/images/" + "A" * 60, "/v3/merchant-service/images/{id}"),
        ("/wxaapi/minishop/complaintOrderDetail", "/wxaapi/minishop/complaintOrderDetail"),
        ("/cgi-bin/media/upload", "/cgi-bin/media/upload"),
    ],
)
def test_endpoint_labels_replace_ids(path: str, endpoint: str) -> None:
    assert endpoint_of(path) == endpoint


@pytest.mark.parametrize(
    ("given", "kept"), [("req-42.a:b", True), ("two words", False), ("x" * 65, False), (None, False)]
)
async def test_a_request_id_is_kept_or_made_and_sent_back(wx: Harness, given: str | None, kept: bool) -> None:
    headers = {"X-Request-ID": given} if given is not None else {}
    answer = await wx.desk.get("/healthz", headers=headers)
    request_id = answer.headers["x-request-id"]
    if kept:
        assert request_id == given
    else:
        assert request_id != given and len(request_id) == 16 and int(request_id, 16) >= 0
