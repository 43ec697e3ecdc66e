"""The task queue: Huey on SQLite in the data directory by default, on Redis at scale.

Tasks have dotted names (``bucket.reconcile``) and are enqueued by services through
:class:`Automation`, never by routes. Huey does not acknowledge tasks, so a task killed
mid-run is gone: the periodic resync makes delivery at-least-once, and every task is
written to be safe to run twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.consumer import Consumer

from loopback.kit.settings import Settings

log = logging.getLogger(__name__)


def make_huey(settings: Settings) -> Huey:
    url = settings.queue_url
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(settings.queue_name, url=url, results=False)
    if url and not url.startswith("sqlite:///"):
        raise ValueError(f"LOOPBACK_QUEUE_URL must be redis://… or sqlite:///…, not {url!r}")
    path = url.removeprefix("sqlite:///") if url else str((settings.data_dir / "queue.db").resolve())
    return SqliteHuey(settings.queue_name, filename=path, results=False)


class Automation:
    """A Huey instance and the named tasks registered on it; one per process."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        self._tasks: dict[str, Any] = {}

    def register(self, name: str, func: Callable[..., None]) -> None:
        self._tasks[name] = self.huey.task(name=name)(func)

    def periodic(self, name: str, minutes: int, func: Callable[[], None]) -> None:
        schedule = crontab(minute="*" if minutes == 1 else f"*/{minutes}")
        self._tasks[name] = self.huey.periodic_task(schedule, name=name)(func)

    def enqueue(self, task: str, *args: Any, delay: float | None = None) -> None:
        wrapper = self._tasks[task]
        if delay:
            wrapper.schedule(args=args, delay=delay)
        else:
            wrapper(*args)

    @property
    def task_names(self) -> list[str]:
        return sorted(self._tasks)

    def pending(self) -> int:
        """How many tasks wait in the queue; also proves the queue's storage answers."""
        return int(self.huey.pending_count())

    def create_consumer(self, workers: int, *, embedded: bool) -> Consumer:
        # A short max_delay: the SQLite queue is polled, and a new bucket should not wait 10 s for it.
        options: dict[str, Any] = {
            "workers": workers,
            "worker_type": "thread",
            "periodic": True,
            "initial_delay": 0.05,
            "backoff": 1.15,
            "max_delay": 0.1,
            "check_worker_health": True,
        }
        consumer_class = EmbeddedConsumer if embedded else Consumer
        return consumer_class(self.huey, **options)


class EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A consumer running inside ``loopback serve``: the server, not Huey, owns the signals."""

    def _set_signal_handlers(self) -> None:
        return None
