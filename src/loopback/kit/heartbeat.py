"""A lease kept alive while slow work runs: a thread that renews it until the ``with`` block ends.

A provider call may hang until its timeout, so the renewal cannot wait for the caller's next step;
it runs in a thread of its own. Used by the reconcile's claim and by a key being issued.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger(__name__)


class Heartbeat:
    """Calls ``beat`` every ``every()`` seconds (read at each beat, so tests may shorten it) until
    the block ends or ``beat`` answers False (the lease is no longer ours). A beat that raises is
    logged and tried again at the next one: the lease may still hold."""

    def __init__(self, name: str, every: Callable[[], float], beat: Callable[[], bool]) -> None:
        self._every = every
        self._beat = beat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every()):
            try:
                if not self._beat():
                    return
            except Exception:
                log.exception("%s: could not renew the lease", self._thread.name)
