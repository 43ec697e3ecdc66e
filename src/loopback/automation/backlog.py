"""How far behind the workers are: the queue's depth and the age of the task waiting longest.

Huey keeps no enqueue time, so :class:`Automation` gives every task a time-based id
(:func:`new_task_id`, a version 1 UUID with a random node) and the age is read back from the
oldest pending message's id. That works alike on the SQLite and the Redis queue: both answer
``pending(limit=1)`` with the next task to run (lowest id first, right end of the Redis list),
which is the oldest; our tasks all share one priority. A delayed task counts from when it
became due (its ``eta``), not from when it was scheduled. A task enqueued by a process of an
older release has a random id and gives no age.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # huey is imported by automation.queue, without its optional backends
    from huey.api import Huey

# 100-nanosecond intervals between the UUID epoch (1582-10-15) and the Unix epoch.
_UUID_EPOCH_OFFSET = 0x01B21DD213814000
# The multicast bit marks a node that is no network card's address (RFC 9562, 6.10).
_RANDOM_NODE_BIT = 1 << 40


@dataclass(frozen=True)
class Backlog:
    """Tasks waiting to run and, when one of them says when it was enqueued, how long it waited."""

    depth: int
    oldest_age_seconds: float | None


def new_task_id() -> str:
    """A task id that carries its enqueue time; the node is random, not this machine's address."""
    return str(uuid.uuid1(node=secrets.randbits(48) | _RANDOM_NODE_BIT))


def enqueued_at(task_id: str) -> float | None:
    """The Unix time a :func:`new_task_id` was made, or None for an id that carries none."""
    try:
        parsed = uuid.UUID(task_id)
    except ValueError:
        return None
    if parsed.version != 1:
        return None
    return (parsed.time - _UUID_EPOCH_OFFSET) / 10_000_000


def backlog(huey: Huey, now: float | None = None) -> Backlog:
    """The depth of ``huey``'s queue and the age in seconds of its oldest task (None when empty
    or when that task carries no enqueue time). Two cheap reads: a count and one message."""
    depth = int(huey.pending_count())
    if depth == 0:
        return Backlog(0, None)
    oldest = huey.pending(limit=1)
    if not oldest:  # taken by a worker between the two reads
        return Backlog(depth, None)
    task = oldest[0]
    since = enqueued_at(str(task.id))
    if since is None:
        return Backlog(depth, None)
    if task.eta is not None:
        eta = task.eta if task.eta.tzinfo else task.eta.replace(tzinfo=UTC)
        since = max(since, eta.timestamp())
    current = time.time() if now is None else now
    return Backlog(depth, max(0.0, current - since))
