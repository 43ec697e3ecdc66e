"""An idle worker of ``serve`` takes a task enqueued in its own process at once, not at its next poll.

The SQLite queue is polled; between polls an idle worker waits up to the consumer's ``max_delay``.
Here that wait is 30 s, so only the wake-up on enqueue can run the task within the test's seconds.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from loopback.automation.queue import Automation, LoopbackConsumer, make_huey
from loopback.kit.settings import Settings

POLL_SECONDS = 30.0


def test_an_idle_worker_runs_a_task_enqueued_here_without_waiting_for_its_poll(tmp_path: Path) -> None:
    automation = Automation(make_huey(Settings(data_dir=tmp_path, queue_name="wakeup")))
    ran = threading.Event()
    automation.register("test.mark", lambda: ran.set())
    consumer = LoopbackConsumer(
        automation,
        workers=1,
        worker_type="thread",
        periodic=False,
        initial_delay=POLL_SECONDS,
        backoff=1.0,
        max_delay=POLL_SECONDS,
        check_worker_health=False,
    )
    consumer._set_signal_handlers = lambda: None  # the test process keeps its own signals
    consumer.start()
    try:
        time.sleep(0.5)  # the worker found the queue empty and waits for its next poll
        enqueued_at = time.monotonic()
        automation.enqueue("test.mark")
        assert ran.wait(POLL_SECONDS / 3), "the task waited for the worker's next poll"
        assert time.monotonic() - enqueued_at < POLL_SECONDS / 3
    finally:
        consumer.stop(graceful=False)
