"""The backlog (depth, oldest task's age) read from the real queue: SQLite, and Redis when configured.

No worker runs, so what is enqueued stays; the age is measured against a ``now`` the test gives.
"""

from __future__ import annotations

import time

from loopback.automation.backlog import backlog, enqueued_at, new_task_id
from loopback.automation.queue import Automation, make_huey
from loopback.kit.settings import Settings


def queue_of(settings: Settings) -> Automation:
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # the SQLite queue's home, as serve makes it
    automation = Automation(make_huey(settings))
    automation.register("test.noop", lambda *args: None)
    return automation


def test_an_empty_queue_has_no_backlog(settings: Settings) -> None:
    found = backlog(queue_of(settings).huey)
    assert (found.depth, found.oldest_age_seconds) == (0, None)


def test_the_oldest_task_gives_the_age_and_every_waiting_task_the_depth(settings: Settings) -> None:
    automation = queue_of(settings)
    before = time.time()
    automation.enqueue("test.noop", "first")
    automation.enqueue("test.noop", "second")
    automation.enqueue("test.noop", "third")
    later = time.time() + 100
    found = backlog(automation.huey, now=later)
    assert found.depth == 3
    assert found.oldest_age_seconds is not None
    assert 100 <= found.oldest_age_seconds <= later - before
    assert [task.args for task in automation.huey.pending(limit=1)] == [("first",)]


def test_a_task_id_carries_its_enqueue_time_and_a_random_one_none() -> None:
    made = time.time()
    stamped = enqueued_at(new_task_id())
    assert stamped is not None
    assert abs(stamped - made) < 60
    assert enqueued_at("2b0f6c9e-5d3a-4c1e-9b7a-1f2e3d4c5b6a") is None
    assert enqueued_at("not-a-uuid") is None
