"""What a service needs of the task queue, without knowing the queue: domains sit below automation."""

from __future__ import annotations

from typing import Any, Protocol


class Enqueue(Protocol):
    """Run a named task soon, or after ``delay`` seconds."""

    def __call__(self, task: str, *args: Any, delay: float | None = None) -> None: ...
