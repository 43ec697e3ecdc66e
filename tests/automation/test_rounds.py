"""Periodic rounds run once per installation and period, however many ``loopback worker``s run.

Two real worker processes share one database and one queue (SQLite files, or PostgreSQL and
Redis); the resync's period is two seconds; every round that runs logs its name and slot.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from loopback.kit.settings import Settings
from loopback.migrations import upgrade
from tests.automation.workers import WorkerProcess
from tests.conftest import wait_for

ROUND_RAN = re.compile(r"round (\S+) runs \(slot (\d+)\)")
PERIOD_SECONDS = 2
EVERY_PERIOD = ("bucket.resync.periodic", "credential.maintain.periodic")


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


def rounds_run(workers: list[WorkerProcess]) -> Counter[tuple[str, int]]:
    """How often each (round, slot) ran, over the logs of every worker."""
    runs: Counter[tuple[str, int]] = Counter()
    for worker in workers:
        for name, slot in ROUND_RAN.findall(worker.output()):
            runs[(name, int(slot))] += 1
    return runs


def test_two_workers_run_each_round_once_per_period(
    settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    upgrade(settings.resolved_database_url)  # `loopback migrate`, once, before the workers start
    environment = {
        "LOOPBACK_RESYNC_SECONDS": str(PERIOD_SECONDS),
        "LOOPBACK_SECRET_KEY": Fernet.generate_key().decode(),  # what every process must share
    }
    for number in (1, 2):
        workers.append(WorkerProcess(settings, tmp_path / f"worker-{number}.log", **environment).launch())
    for worker in workers:
        worker.wait_started()
    # The periods that count: from the one after next on (a worker leaves the period under way
    # when its scheduler starts, a moment after it says it runs, to the workers already running).
    both_running = int(time.time() // PERIOD_SECONDS) + 1

    def resync_slots() -> list[int]:
        runs = rounds_run(workers)
        return sorted(s for name, s in runs if name == "bucket.resync.periodic" and s > both_running)

    wait_for(lambda: len(resync_slots()) >= 5, timeout=60, interval=0.5)
    assert all(worker.running for worker in workers), [w.output() for w in workers]
    for worker in workers:
        worker.stop()

    runs = Counter({run: n for run, n in rounds_run(workers).items() if run[1] > both_running})
    twice = {run: count for run, count in runs.items() if count > 1}
    assert not twice, f"rounds run more than once in a period: {twice}"
    for name in EVERY_PERIOD:
        slots = sorted(slot for each, slot in runs if each == name)
        # one run in each period from the first to the last, none skipped (no worker was killed)
        assert slots == list(range(slots[0], slots[0] + len(slots))), (name, slots)
        assert len(slots) >= 5, (name, slots)
