"""Multiprocess mode: counters written by separate processes add up in one scrape; stale files go."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

COUNT = """
import sys
from pathlib import Path
from complaintdesk.ops import metrics
metrics.use_directory(Path(sys.argv[1]), clean=sys.argv[3] == "clean")
metrics.count_notifications("wechatpay", "stored", int(sys.argv[2]))
metrics.count_notifications("wechatpay", "refused", 1, reason="SignatureInvalid")
metrics.process_exiting()
"""
SCRAPE = """
import sys
from pathlib import Path
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from complaintdesk.ops import metrics
metrics.use_directory(Path(sys.argv[1]), clean=False)
registry = CollectorRegistry()
MultiProcessCollector(registry, sys.argv[1])
sys.stdout.write(generate_latest(registry).decode())
"""


def run(code: str, *args: object) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def notifications(text: str) -> dict[tuple[str, str], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "complaintdesk_notifications_total":
                found[(sample.labels["result"], sample.labels["reason"])] = sample.value
    return found


def test_counters_of_two_processes_add_up_in_a_scrape_from_a_third(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    # As the workers of `serve --workers 2`: they inherit the directory and clean nothing.
    run(COUNT, directory, 7, "keep")
    run(COUNT, directory, 5, "keep")
    assert len(list(directory.glob("counter_*.db"))) == 2  # one file per process
    assert notifications(run(SCRAPE, directory)) == {("stored", ""): 12, ("refused", "SignatureInvalid"): 2}


def test_a_start_removes_the_files_of_processes_that_are_gone_and_keeps_live_ones(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    run(COUNT, directory, 3, "keep")
    [stale] = directory.glob("counter_*.db")
    live = directory / f"counter_{os.getpid()}.db"  # this test's own process is alive
    live.write_bytes(stale.read_bytes())
    run(COUNT, directory, 4, "clean")  # cleans at start: the dead process's file goes, the live one stays
    assert not stale.exists() and live.exists()
    assert notifications(run(SCRAPE, directory)) == {("stored", ""): 7, ("refused", "SignatureInvalid"): 2}
