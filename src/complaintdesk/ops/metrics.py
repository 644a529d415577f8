"""Prometheus counters and histograms, in multiprocess mode when serving.

Counters are incremented where things happen (the inbox writer, the webhook refusals, the channel
HTTP clients, the job wrappers, alert delivery); gauges that come from the database are computed
at scrape time by :mod:`complaintdesk.ops.collector`. Every metric here has labels, so its values
are created on first use: after :func:`use_directory` has switched prometheus-client to its
multiprocess values (one memory-mapped file per process and kind under the metrics directory),
which ``serve`` and ``worker`` do at start, before any request or job.

With ``serve --workers N`` and ``worker`` processes on one machine sharing ``data_dir``, a scrape of
any process adds up every process's files. Files of processes that are gone stay until the next
start (counters never go backwards while the server runs); gauges of a process that exits cleanly
are dropped (``mark_process_dead``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from prometheus_client import Counter, Histogram

log = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"

NOTIFICATIONS = Counter(
    "complaintdesk_notifications",
    "Webhook notifications received, by channel and result (stored, duplicate, refused) and refusal reason.",
    ["channel", "result", "reason"],
)
UPSTREAM_REQUESTS = Histogram(
    "complaintdesk_upstream_request_seconds",
    "Calls to the upstream APIs (WeChat Pay, Mini Program, Huishouqian): latency by endpoint.",
    ["channel", "endpoint"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0),
)
UPSTREAM_RESPONSES = Counter(
    "complaintdesk_upstream_responses",
    "Upstream answers by endpoint and status class (2xx, 3xx, 4xx, 429, 5xx).",
    ["channel", "endpoint", "status"],
)
UPSTREAM_ERRORS = Counter(
    "complaintdesk_upstream_errors",
    "Upstream calls that got no answer (connect or read timeouts, refused connections), by error type.",
    ["channel", "endpoint", "error"],
)
JOB_RUNS = Counter(
    "complaintdesk_job_runs",
    "Job runs by task and result (ok, failed: an unexpected exception, retried later).",
    ["task", "result"],
)
ALERT_DELIVERIES = Counter(
    "complaintdesk_alert_deliveries",
    "Alert deliveries (one event to one destination) by result: delivered, or failed (the attempt was"
    " refused or the destination unreachable; retried with backoff until max_attempts).",
    ["result"],
)


def count_notifications(channel: str, result: str, count: int = 1, reason: str = "") -> None:
    """Add ``count`` notifications of ``channel`` with ``result`` (and a refusal's reason)."""
    if count:
        NOTIFICATIONS.labels(channel, result, reason).inc(count)


def multiprocess_directory() -> Path | None:
    """The multiprocess directory this process writes to, or None (single-process registry)."""
    value = os.environ.get(ENV)
    return Path(value) if value else None


def use_directory(path: Path, *, clean: bool) -> None:
    """Write this process's metric values under ``path`` (and pass it on to child processes).

    ``clean`` removes the files of processes that are no longer running (a start after a crash or a
    restart): those of live processes, such as a ``worker`` started before ``serve``, are kept.
    """
    path.mkdir(parents=True, exist_ok=True)
    if clean:
        for file in path.glob("*.db"):
            pid = file.stem.rsplit("_", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                with contextlib.suppress(FileNotFoundError):
                    file.unlink()
    os.environ[ENV] = str(path)
    from prometheus_client import values

    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]  # values created from now on live in the files


def process_exiting() -> None:
    """Drop this process's live gauges from the multiprocess directory (counters stay)."""
    path = multiprocess_directory()
    if path is None:
        return
    from prometheus_client import multiprocess

    try:
        multiprocess.mark_process_dead(os.getpid(), str(path))  # type: ignore[no-untyped-call]
    except OSError as exc:
        log.debug("metrics: could not mark process dead: %s", exc)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
