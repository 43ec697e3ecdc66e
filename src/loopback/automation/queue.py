"""The task queue: Huey on SQLite in the data directory by default, on Redis at scale.

Tasks have dotted names (``bucket.reconcile``) and are enqueued by services through
:class:`Automation`, never by routes. Huey does not acknowledge tasks, so a task killed
mid-run is gone: the reconcile's re-check and the periodic resync make delivery at-least-once,
and every task is written to be safe to run twice.

Periodic rounds (the resync, drift, usage and key upkeep) run once per installation and period,
however many workers run: see :class:`RoundScheduler`.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from loopback.automation.backlog import new_task_id
from loopback.kit.logs import log_context
from loopback.kit.metrics import PERIODIC_LAST_SUCCESS, TASKS
from loopback.kit.settings import Settings

# huey.storage imports redis and psycopg whenever they are installed (about 21 MiB in every process):
# imported without them, and a Redis queue gives huey its redis names back (``_huey_on_redis``).
HUEY_OPTIONAL_BACKENDS = ("redis", "psycopg")


@contextmanager
def _without(modules: tuple[str, ...]) -> Iterator[None]:
    """Imports of ``modules`` not loaded yet raise ImportError inside the block (as uninstalled)."""
    hidden = [name for name in modules if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


with _without(HUEY_OPTIONAL_BACKENDS):
    from huey import RedisHuey, SqliteHuey
    from huey.api import Huey
    from huey.consumer import Consumer, Worker

log = logging.getLogger(__name__)


def _huey_on_redis() -> None:
    """Bind what huey.storage's own ``try: from redis import ...`` binds when it was imported alone."""
    import huey.storage
    import redis
    import redis.exceptions

    if huey.storage.Redis is None:
        huey.storage.ConnectionPool = redis.ConnectionPool
        huey.storage.Redis = redis.Redis
        huey.storage.ConnectionError = redis.exceptions.ConnectionError
        huey.storage.TimeoutError = redis.exceptions.TimeoutError
        huey.storage.RedisStorage.redis_client = redis.Redis  # taken from the name at class creation


# Who wrote a round's key: read by an operator looking into the queue's storage, never by code.
PROCESS = f"{socket.gethostname()}:{os.getpid()}"


def make_huey(settings: Settings) -> Huey:
    url = settings.queue_url
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        _huey_on_redis()
        return RedisHuey(settings.queue_name, url=url, results=False)
    if url and not url.startswith("sqlite:///"):
        raise ValueError(f"LOOPBACK_QUEUE_URL must be redis://… or sqlite:///…, not {url!r}")
    path = url.removeprefix("sqlite:///") if url else str((settings.data_dir / "queue.db").resolve())
    return SqliteHuey(settings.queue_name, filename=path, results=False)


class Automation:
    """A Huey instance, the named tasks registered on it and the periodic rounds; one per process."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        self._tasks: dict[str, Any] = {}
        self._rounds: dict[str, float] = {}
        # Set by every enqueue: this process's idle workers look at the queue at once instead of
        # at their next poll (the SQLite queue is polled; a new bucket should not wait for it).
        self.enqueued = threading.Event()
        self._listeners: list[Callable[[str], None]] = []
        self._standalone_listeners: list[Callable[[], object]] = []

    def register(self, name: str, func: Callable[..., None]) -> None:
        self._tasks[name] = self.huey.task(name=name)(recorded(name, func))

    def periodic(self, name: str, seconds: float, func: Callable[[], None]) -> None:
        """A round: the task ``name``, enqueued once per ``seconds`` for the whole installation."""
        if seconds <= 0:
            raise ValueError(f"round {name}: the period must be positive, not {seconds}")

        def run_round(slot: int) -> None:
            log.info("round %s runs (slot %d)", name, slot)
            func()
            PERIODIC_LAST_SUCCESS.labels(name).set_to_current_time()

        self._tasks[name] = self.huey.task(name=name)(recorded(name, run_round))
        self._rounds[name] = float(seconds)

    @property
    def rounds(self) -> dict[str, float]:
        """Each round's period in seconds."""
        return dict(self._rounds)

    def elect(self, name: str, slot: int) -> bool:
        """Whether this process runs round ``name`` in period ``slot``: the first to write the
        slot's key does, with Huey's atomic ``put_if_empty`` (``lock_task``'s own primitive, on
        SQLite and Redis alike); every other worker finds the key and leaves it."""
        prefix = f"round.{name}.{self._rounds[name]:g}"
        if not self.huey.put_if_empty(f"{prefix}.{slot}", PROCESS):
            return False
        # The previous slot's key stays, so a worker whose clock runs a little behind cannot win
        # it again; the one before goes, so the storage holds two keys per round.
        self.huey.delete(f"{prefix}.{slot - 2}")
        return True

    def enqueue(self, task: str, *args: Any, delay: float | None = None) -> None:
        wrapper = self._tasks[task]
        if delay:
            wrapper.schedule(args=args, delay=delay, id=new_task_id())
        else:
            wrapper(*args, id=new_task_id())  # the id carries the enqueue time (backlog.py)
            self.enqueued.set()
        for listener in self._listeners:
            listener(task)

    def when_enqueued(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` with a task's name after each enqueue of this process."""
        self._listeners.append(listener)

    def when_standalone_starts(self, listener: Callable[[], object]) -> None:
        """Call ``listener`` when a consumer of its own process starts (``loopback worker``), not
        one inside ``serve``: what the API would otherwise do for it (answer /metrics)."""
        self._standalone_listeners.append(listener)

    def standalone_started(self) -> None:
        for listener in self._standalone_listeners:
            listener()

    def when_started(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` when a worker of this process starts."""
        self.huey.on_startup(name=f"listener-{len(self.huey._startup)}")(listener)

    def when_done(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` with a task's name after each task this process's workers ran."""

        def after(task: Any, _value: Any, _error: BaseException | None) -> None:
            listener(str(task.name))

        self.huey.post_execute(name=f"listener-{len(self.huey._post_execute)}")(after)

    @property
    def task_names(self) -> list[str]:
        return sorted(self._tasks)

    def pending(self) -> int:
        """How many tasks wait in the queue; also proves the queue's storage answers."""
        return int(self.huey.pending_count())

    def create_consumer(self, workers: int, *, embedded: bool) -> LoopbackConsumer:
        # A short max_delay: the SQLite queue is polled, and a new bucket should not wait 10 s for it.
        # Huey's own periodic scheduler stays off: it runs in every consumer, so M workers would
        # run each round M times; the rounds are elected by ``RoundScheduler`` instead.
        options: dict[str, Any] = {
            "workers": workers,
            "worker_type": "thread",
            "periodic": False,
            "initial_delay": 0.05,
            "backoff": 1.15,
            "max_delay": 0.1,
            "check_worker_health": True,
        }
        consumer_class = EmbeddedConsumer if embedded else LoopbackConsumer
        return consumer_class(self, **options)


def recorded(name: str, func: Callable[..., None]) -> Callable[..., None]:
    """``func`` run as task ``name``: its log lines carry the task's name, and kit.metrics counts
    it by outcome."""

    @functools.wraps(func)
    def run(*args: Any) -> None:
        with log_context(task=name):
            try:
                func(*args)
            except BaseException:
                TASKS.labels(name, "error").inc()
                raise
            TASKS.labels(name, "ok").inc()

    return run


class RoundScheduler:
    """Starts each periodic round once per period for the whole installation.

    Time is cut into slots of each round's period on the wall clock (``slot = now // seconds``).
    Every worker's scheduler looks twice a second; when a slot begins, the workers race to write
    its key (``Automation.elect``) and the one that wrote it enqueues the round. A round whose
    task is lost with a killed worker is skipped until the next slot. Clocks of the workers must
    agree to well within a period (NTP does); the slot under way when a worker starts is left,
    as cron does, to the workers already running.
    """

    def __init__(self, automation: Automation) -> None:
        self._automation = automation
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[str, int] = {}

    def start(self) -> None:
        rounds = self._automation.rounds
        if not rounds:
            return
        now = time.time()
        self._seen = {name: int(now // seconds) for name, seconds in rounds.items()}
        tick = min(0.5, min(rounds.values()) / 4)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(tick,), name="rounds", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self, tick: float) -> None:
        while not self._stop.wait(tick):
            self.tick(time.time())

    def tick(self, now: float) -> list[str]:
        """Enqueue the rounds whose new slot this process won; answers their names."""
        started = []
        for name, seconds in self._automation.rounds.items():
            slot = int(now // seconds)
            if slot <= self._seen.get(name, -1):
                continue
            try:
                if self._automation.elect(name, slot):
                    self._automation.enqueue(name, slot)
                    started.append(name)
            except Exception:  # the queue's storage is down: try this slot again at the next tick
                log.exception("could not start round %s (slot %d)", name, slot)
                continue
            self._seen[name] = slot
        return started


class WakeableWorker(Worker):  # type: ignore[misc]
    """Huey's worker, whose idle wait between polls ends when this process enqueues a task.

    A task enqueued by another process (an API replica on the same SQLite queue) still waits for
    the next poll, at most the consumer's ``max_delay``; Redis's queue blocks instead of polling.
    """

    delay: float
    default_delay: float
    max_delay: float
    backoff: float

    def __init__(self, enqueued: threading.Event, **options: Any) -> None:
        super().__init__(**options)
        self.enqueued = enqueued

    def sleep(self) -> None:
        self.delay = min(self.delay, self.max_delay)
        if self.enqueued.wait(self.delay):
            self.enqueued.clear()
            self.delay = self.default_delay
            return
        self.delay *= self.backoff


class LoopbackConsumer(Consumer):  # type: ignore[misc]
    """Huey's consumer with the round scheduler running beside its workers."""

    embedded = False

    def __init__(self, automation: Automation, **options: Any) -> None:
        self.enqueued = automation.enqueued  # before Huey's constructor makes the workers
        super().__init__(automation.huey, **options)
        self.rounds = RoundScheduler(automation)
        self.automation = automation

    def _create_worker(self) -> Worker:
        return WakeableWorker(
            self.enqueued,
            huey=self.huey,
            stop_flag=self.stop_flag,
            default_delay=self.default_delay,
            max_delay=self.max_delay,
            backoff=self.backoff,
            max_tasks=self.max_tasks,
        )

    def start(self) -> None:
        super().start()
        self.rounds.start()
        if not self.embedded:
            self.automation.standalone_started()

    def stop(self, graceful: bool = False) -> None:
        self.rounds.stop()
        super().stop(graceful)


class EmbeddedConsumer(LoopbackConsumer):
    """A consumer running inside ``loopback serve``: the server, not Huey, owns the signals."""

    embedded = True

    def _set_signal_handlers(self) -> None:
        return None
