"""A complaintdesk cluster on loopback: the WeChat Pay simulator, ``serve`` and ``worker`` processes.

* The simulator runs on uvicorn **in the caller's event loop** (so its state, counters and notifier
  live in the test process and nothing touches them from another thread), behind ``Wire``: a random
  latency per API call and a log of the image downloads it answered.
* ``complaintdesk serve`` (``run_jobs_in_process = false``) and ``complaintdesk worker`` are real
  subprocesses, each in its own process group (``kill``, ``pause``, ``resume`` act on one worker).
* The simulator's notifier posts to the serve processes: merchant ``shop`` to the first one, the
  service provider ``sp`` (sub-merchant ``SUB_MCHID``) to the second one.

Used by ``tests/e2e/test_cluster.py`` and ``bench/workers.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import uvicorn
from sqlalchemy import Engine, text

from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.tokens import service as token_service
from complaintdesk.db import make_engine, make_session_factory, unit_of_work
from complaintdesk.migrate import upgrade
from complaintdesk.sandbox.common.windows import SlidingWindows
from complaintdesk.sandbox.wechatpay import (
    Faults,
    MerchantCredentials,
    Notifier,
    PlatformKeys,
    SimulatorState,
    create_app,
    generate_merchant,
    generate_platform,
    write_merchant_files,
)
from complaintdesk.sandbox.wechatpay.model import MEDIA_PATH, Notification

SUB_MCHID = "1900000101"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Keys = tuple[PlatformKeys, MerchantCredentials, MerchantCredentials]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Wire:
    """ASGI wrapper of the simulator: latency on every API call; successful image downloads logged."""

    def __init__(self, app: Any, latency: tuple[float, float], seed: int = 5) -> None:
        self.app = app
        self.latency = latency
        self.rng = random.Random(seed)
        #: (monotonic time the 200 was answered, media id) per successful image download.
        self.downloads: list[tuple[float, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v3/"):
            await self.app(scope, receive, send)
            return
        await asyncio.sleep(self.rng.uniform(*self.latency))
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        if scope["method"] != "GET" or not raw.startswith(MEDIA_PATH.encode()):
            await self.app(scope, receive, send)
            return
        media_id = unquote(raw[len(MEDIA_PATH) :].decode("latin-1"))

        async def spy(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                self.downloads.append((time.monotonic(), media_id))
            await send(message)

        await self.app(scope, receive, spy)


class TimedNotifier(Notifier):
    """The simulator's notifier, remembering when each complaint's first notification first left."""

    def __init__(self, state: SimulatorState, **kwargs: Any) -> None:
        super().__init__(state, **kwargs)
        self.first_sent: dict[str, float] = {}  # complaint id -> time.time() of the first attempt

    async def _send(self, n: Notification) -> int | None:
        self.first_sent.setdefault(n.complaint_id, time.time())
        return await super()._send(n)


@dataclass
class Spec:
    """What to start and how (timings small enough for a test)."""

    serves: int = 2
    workers: int = 3
    concurrency: int = 4
    latency: tuple[float, float] = (0.02, 0.08)
    faults: Faults = field(default_factory=Faults)
    #: Simulator limits per merchant within ``limit_span`` seconds (None: the documented per-minute ones).
    limits: dict[str, int] | None = None
    limit_span: float = 1.0
    sync_interval: int = 15
    jobs: dict[str, float] = field(
        default_factory=lambda: {
            "lease_seconds": 6,
            "heartbeat_seconds": 1,
            "stalled_after_seconds": 8,  # a loaded 2-core machine delays 1 s heartbeats by seconds
            "sweep_seconds": 2,
            "scheduled_poll_seconds": 0.5,
        }
    )


def write_config(directory: Path, db_url: str, spec: Spec) -> Path:
    """The TOML file every process reads: small job timings, channel timeouts below the lease."""
    key_file = directory / "data_key"
    key_file.write_text("c" * 48, encoding="utf-8")
    budgets = [
        f"{name}_per_minute = 1000000"
        for name in ("list", "history", "detail", "reply", "upload", "complete", "image_download")
    ]
    jobs = [f"{name} = {value}" for name, value in spec.jobs.items()]
    lines = [
        f'database_url = "{db_url}"',
        f'data_key_file = "{key_file}"',
        f'data_dir = "{directory / "data"}"',
        "run_jobs_in_process = false",
        'log_level = "WARNING"',
        "job_max_attempts = 20",
        "[jobs]",
        *jobs,
        f"concurrency = {spec.concurrency}",
        "[wechatpay]",
        *budgets,
        "connect_timeout = 1.0",
        "read_timeout = 2.0",
        "max_retries = 6",
        "backoff_initial = 0.05",
        "backoff_max = 0.4",
        # a lease of a few seconds needs every channel's calls shorter than it (settings refuse otherwise)
        *(
            f"[{channel}]\nconnect_timeout = 1.0\nread_timeout = 2.0"
            for channel in ("miniprogram", "huishouqian")
        ),
        "[sync]",
        f"interval_seconds = {spec.sync_interval}",
        "lookback_days = 1",
        "[sla]",
        "evaluate_interval_seconds = 60",
        "",
    ]
    config = directory / "complaintdesk.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    return config


def spawn(config: Path, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``complaintdesk <args>`` in its own process group, stderr to ``log``."""
    env = {**os.environ, "COMPLAINTDESK_CONFIG": str(config)}
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "complaintdesk.cli.main", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
        )


class Cluster:
    """The simulator, ``spec.serves`` serve processes and ``spec.workers`` workers on one database."""

    def __init__(self, db_url: str, directory: Path, spec: Spec, keys: Keys | None = None) -> None:
        self.db_url = db_url
        self.dir = directory
        self.spec = spec
        platform, self.shop, self.provider = keys or (
            generate_platform(),
            generate_merchant("1900000001"),
            generate_merchant("1900000100"),
        )
        self.platform = platform
        self.state = SimulatorState(platform=self.platform, faults=spec.faults, limits=spec.limits, seed=3)
        if spec.limits is not None:
            self.state.windows = SlidingWindows(self.state.limits, span=spec.limit_span)
        self.wire = Wire(create_app(self.state), spec.latency)
        self.ports = [free_port() for _ in range(spec.serves)]
        self.sim_port = free_port()
        base = "http://127.0.0.1:{}/webhooks/wechatpay/{}"
        self.state.register_merchant(self.shop, notify_url=base.format(self.ports[0], "shop"))
        self.state.register_merchant(
            self.provider, sub_mchids=[SUB_MCHID], notify_url=base.format(self.ports[-1], "sp")
        )
        self.notifier = TimedNotifier(self.state, retry_delays=(0.2, 0.5, 1, 2, 4, 8), concurrency=16)
        self.engine: Engine = make_engine(db_url, pool_size=2)
        self.serves: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self.bearer = ""
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sim: uvicorn.Server | None = None
        self.config = write_config(directory, db_url, spec)

    # ------------------------------------------------------------------ start / stop
    async def start(self) -> None:
        """Serve the simulator, prepare the database, start serve and worker processes."""
        self._sim = uvicorn.Server(
            uvicorn.Config(self.wire, host="127.0.0.1", port=self.sim_port, log_level="error", lifespan="off")
        )
        self._tasks.append(asyncio.create_task(self._sim.serve()))
        await asyncio.to_thread(self._prepare_database)
        for port in self.ports:
            self.serves.append(
                spawn(self.config, ["serve", "--port", str(port)], self.dir / f"serve-{port}.log")
            )
        await self.start_workers(self.spec.workers)
        async with httpx.AsyncClient() as client:
            for port in self.ports:
                await _until(functools.partial(_healthy, client, port), 60, f"serve on port {port}")
        while not self._sim.started:
            await asyncio.sleep(0.02)
        self._tasks.append(asyncio.create_task(self.notifier.run(self._stop)))

    async def start_workers(self, count: int) -> None:
        """Start ``count`` more worker processes and wait until each has registered with procrastinate."""
        before = len(self.workers)
        for i in range(before, before + count):
            self.workers.append(spawn(self.config, ["worker"], self.dir / f"worker-{i}.log"))
        await _until(lambda: self._live_workers(before + count), 60, "workers to register")

    async def _live_workers(self, count: int) -> bool:
        seen = await asyncio.to_thread(self.scalar, "SELECT count(*) FROM procrastinate_workers")
        return int(seen) >= count

    def _prepare_database(self) -> None:
        upgrade(self.engine)
        with unit_of_work(make_session_factory(self.engine)) as session:
            for name, merchant, kind in (
                ("shop", self.shop, "merchant"),
                ("sp", self.provider, "service_provider"),
            ):
                self._account(session, name, merchant, kind)
            value, _ = token_service.create(
                session=session, name="cluster", account_names=[], all_accounts=True
            )
        self.bearer = value

    def _account(self, session: Any, name: str, merchant: MerchantCredentials, kind: str) -> None:
        files = write_merchant_files(self.dir / name, merchant, self.platform)
        account_service.create(
            session=session,
            name=name,
            channel="wechatpay",
            mchid=merchant.mchid,
            kind=kind,
            merchant_serial=merchant.serial_no,
            private_key_ref=f"file:{files['private_key']}",
            merchant_cert_ref=f"file:{files['certificate']}",
            apiv3_key_ref=f"file:{files['apiv3_key']}",
            platform_cert_refs=[f"file:{files['platform_certificate']}"],
            public_key_id=self.platform.public_key_id,
            public_key_ref=f"file:{files['public_key']}",
            api_base_url=f"http://127.0.0.1:{self.sim_port}",
        )

    async def stop_workers(self) -> None:
        """SIGTERM (then SIGKILL) every worker still running, and forget them."""
        await asyncio.to_thread(_terminate, self.workers)
        self.workers = []

    async def aclose(self) -> None:
        """Stop every process (SIGCONT first, in case one is paused), the notifier and the simulator."""
        procs = [*self.workers, *self.serves]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGCONT)
        await asyncio.to_thread(_terminate, procs)
        self._stop.set()
        if self._sim is not None:
            self._sim.should_exit = True
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.engine.dispose()

    # ------------------------------------------------------------------ faults
    def kill(self, i: int) -> None:
        """``kill -9`` worker ``i`` (its whole process group)."""
        os.killpg(self.workers[i].pid, signal.SIGKILL)
        self.workers[i].wait(timeout=10)

    def pause(self, i: int) -> None:
        """SIGSTOP worker ``i``."""
        os.killpg(self.workers[i].pid, signal.SIGSTOP)

    def resume(self, i: int) -> None:
        """SIGCONT worker ``i``."""
        os.killpg(self.workers[i].pid, signal.SIGCONT)

    # ------------------------------------------------------------------ observing
    def scalar(self, sql: str) -> Any:
        """One value from the database."""
        with self.engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()

    def rows(self, sql: str) -> list[Any]:
        """Rows from the database."""
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql)).all())

    def progress(self) -> dict[str, int]:
        """Counts the test waits on (one round trip)."""
        row = self.rows(
            "SELECT (SELECT count(*) FROM inbox_event),"
            " (SELECT count(*) FROM inbox_event WHERE status = 'done'),"
            " (SELECT count(*) FROM complaint WHERE history_fetched_at IS NOT NULL),"
            " (SELECT count(*) FROM outbound_action),"
            " (SELECT count(*) FROM outbound_action WHERE status IN ('sent', 'failed')),"
            " (SELECT count(*) FROM media_link),"
            " (SELECT count(*) FROM media_link WHERE sha256 IS NOT NULL)"
        )[0]
        names = ("events", "events_done", "visible", "actions", "actions_done", "links", "links_done")
        return dict(zip(names, (int(v) for v in row), strict=True))

    def api(self, i: int) -> str:
        """Base URL of serve process ``i`` (modulo the number of serve processes)."""
        return f"http://127.0.0.1:{self.ports[i % len(self.ports)]}"

    @property
    def headers(self) -> dict[str, str]:
        """The bearer token of every API call."""
        return {"Authorization": f"Bearer {self.bearer}"}

    def logs(self) -> str:
        """The last lines of every process's stderr (for failure messages)."""
        parts = []
        for log in sorted(self.dir.glob("*.log")):
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
            parts.append(f"--- {log.name}\n" + "\n".join(lines[-15:]))
        return "\n".join(parts)


async def _healthy(client: httpx.AsyncClient, port: int) -> bool:
    try:
        return (await client.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)).status_code == 200
    except httpx.HTTPError:
        return False


async def _until(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        await asyncio.sleep(0.1)


def _terminate(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
