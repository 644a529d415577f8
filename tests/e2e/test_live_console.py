"""The live console across processes: two ``serve`` processes on one database (SQLite and PostgreSQL).

A change made through one process reaches an event stream opened on the other; a user sees only the
changes of complaints in their scope; presence (viewing, composing, gone) crosses processes; a stream
ends when its session is signed out.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.core import consolekit
from tests.e2e.test_crash import add_shop, free_port, start_server, wait_until_group_gone

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.db import make_engine, make_session_factory, unit_of_work

pytestmark = pytest.mark.slow
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
WAIT = 20.0


@dataclass
class Stream:
    """An open ``/live`` stream read by a thread: (event, data) pairs arrive on ``events``."""

    client: httpx.Client
    url: str
    events: queue.Queue[tuple[str, dict[str, Any]]] = field(default_factory=queue.Queue)
    closed: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Stream:
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        kind, data = "message", ""
        try:
            with self.client.stream("GET", self.url, timeout=httpx.Timeout(5, read=60)) as answer:
                assert answer.status_code == 200, answer.status_code
                for line in answer.iter_lines():
                    if self.closed.is_set():
                        return
                    if line.startswith("event:"):
                        kind = line.partition(":")[2].strip()
                    elif line.startswith("data:"):
                        data = line.partition(":")[2].strip()
                    elif not line and data:
                        self.events.put((kind, json.loads(data)))
                        kind, data = "message", ""
        except httpx.HTTPError:
            pass
        finally:
            self.events.put(("closed", {}))

    def next(self, kind: str, where: Any = None) -> dict[str, Any]:
        """The next event of ``kind`` (matching ``where``); other events are skipped."""
        while True:
            got, data = self.events.get(timeout=WAIT)
            if got == kind and (where is None or where(data)):
                return data
            if got == "closed" and kind != "closed":
                raise AssertionError(f"the stream closed while waiting for {kind}")

    def kinds_until(self, kind: str, where: Any) -> list[tuple[str, dict[str, Any]]]:
        """Every event up to and including the first ``kind`` matching ``where``."""
        seen = []
        while True:
            got, data = self.events.get(timeout=WAIT)
            seen.append((got, data))
            if got == kind and where(data):
                return seen

    def close(self) -> None:
        self.closed.set()
        self.client.close()


@dataclass
class Cluster:
    ports: list[int]
    shop_complaint: int
    other_complaint: int
    servers: list[Any]

    def base(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    def sign_in(self, index: int, username: str) -> tuple[httpx.Client, str]:
        client = httpx.Client(base_url=self.base(index), follow_redirects=False)
        csrf = _CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
        answer = client.post("/login", data={"csrf_token": csrf, "username": username,
                                             "password": consolekit.PASSWORD})  # fmt: skip
        assert answer.status_code == 303, answer.text
        page = client.get("/")
        return client, _CSRF.search(page.text).group(1)  # type: ignore[union-attr]

    def on(self, index: int, client: httpx.Client) -> httpx.Client:
        """The same signed-in browser, talking to another process."""
        return httpx.Client(base_url=self.base(index), cookies=client.cookies, follow_redirects=False)


@pytest.fixture
def cluster(db_url: str, tmp_path: Path) -> Iterator[Cluster]:
    add_shop(db_url, tmp_path)
    engine = make_engine(db_url, pool_size=0)
    with consolekit.cheap_hashing(), unit_of_work(make_session_factory(engine)) as s:
        shop = s.scalars(select(MerchantAccount).where(MerchantAccount.name == "shop")).one()
        other = consolekit.account(s, "other")
        shop_complaint = consolekit.complaint(s, shop, problem_type="OTHERS").id
        other_complaint = consolekit.complaint(s, other, problem_type="OTHERS").id
        consolekit.user(s, "ann", all_accounts=True)
        consolekit.user(s, "bob", all_accounts=True)
        consolekit.user(s, "olga", accounts=[other])
    engine.dispose()
    key_file = tmp_path / "data_key"
    key_file.write_text("k" * 48, encoding="utf-8")
    ports, servers = [free_port(), free_port()], []
    for index, port in enumerate(ports):
        config = tmp_path / f"complaintdesk-{index}.toml"
        config.write_text(
            f'database_url = "{db_url}"\ndata_key_file = "{key_file}"\ndata_dir = "{tmp_path / "data"}"\n'
            f"port = {port}\nrun_jobs_in_process = false\n"
            "live_poll_seconds = 0.2\nlive_heartbeat_seconds = 1\n",
            encoding="utf-8",
        )
        servers.append(start_server(config, port))
    running = Cluster(ports, shop_complaint, other_complaint, servers)
    yield running
    for server in servers:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        wait_until_group_gone(server.pid)


def _note(client: httpx.Client, csrf: str, complaint_id: int, text: str) -> None:
    answer = client.post(f"/complaints/{complaint_id}/notes", data={"csrf_token": csrf, "note": text})
    assert answer.status_code == 303, answer.text


def test_a_change_made_through_one_process_reaches_streams_on_the_other_within_scope(
    cluster: Cluster,
) -> None:
    ann, ann_csrf = cluster.sign_in(0, "ann")
    olga, _ = cluster.sign_in(1, "olga")
    ann_inbox = Stream(cluster.on(0, ann), "/live").start()
    olga_inbox = Stream(cluster.on(1, olga), "/live").start()
    ann_inbox.next("hello")
    olga_inbox.next("hello")

    _note(cluster.on(1, ann), ann_csrf, cluster.shop_complaint, "到货了吗？")  # through the other process
    assert ann_inbox.next("timeline", lambda d: d["complaint"] == cluster.shop_complaint)

    _note(cluster.on(0, ann), ann_csrf, cluster.other_complaint, "已联系")
    seen = olga_inbox.kinds_until("timeline", lambda d: d["complaint"] == cluster.other_complaint)
    assert all(d.get("complaint") != cluster.shop_complaint for _, d in seen), "an event outside Olga's scope"
    ann_inbox.close()
    olga_inbox.close()


def test_presence_crosses_processes_and_a_signed_out_stream_ends(cluster: Cluster) -> None:
    ann, ann_csrf = cluster.sign_in(0, "ann")
    bob, bob_csrf = cluster.sign_in(1, "bob")
    olga, _ = cluster.sign_in(1, "olga")
    url = f"/live?complaint={cluster.shop_complaint}"
    assert cluster.on(1, olga).get(url).status_code == 404  # not Olga's merchant: no stream, no presence

    ann_page = Stream(cluster.on(0, ann), url).start()
    tab = ann_page.next("hello")["tab"]
    assert ann_page.next("presence") == {"people": []}
    bob_page = Stream(cluster.on(1, bob), url).start()
    bob_page.next("hello")
    assert bob_page.next("presence", lambda d: d["people"]) == {
        "people": [{"name": "ann", "state": "viewing"}]
    }
    assert ann_page.next("presence", lambda d: d["people"]) == {
        "people": [{"name": "bob", "state": "viewing"}]
    }

    composing = cluster.on(0, ann).post("/live/presence", data={"tab": tab, "state": "composing"},
                                        headers={"X-CSRF-Token": ann_csrf})  # fmt: skip
    assert composing.status_code == 204
    assert bob_page.next("presence", lambda d: d["people"] and d["people"][0]["state"] == "composing")
    refused = cluster.on(1, bob).post("/live/presence", data={"tab": tab, "state": "viewing"},
                                      headers={"X-CSRF-Token": bob_csrf})  # fmt: skip
    assert refused.status_code == 400, "Bob cannot speak for Ann's tab"
    unknown = cluster.on(0, ann).post("/live/presence", data={"tab": tab, "state": "typing"},
                                      headers={"X-CSRF-Token": ann_csrf})  # fmt: skip
    assert unknown.status_code == 400

    assert cluster.on(0, ann).post("/logout", data={"csrf_token": ann_csrf}).status_code == 303
    assert ann_page.next("ended") == {}
    assert bob_page.next("presence", lambda d: d["people"] == []) == {"people": []}  # Ann's page is gone
    ann_page.close()
    bob_page.close()
