"""``loopback worker`` as an operator runs it: a child process with the installation's settings in
its environment and its log in a file of its own."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from loopback.kit.settings import Settings
from tests.conftest import wait_for

STARTED = re.compile(r"worker \S+ started: \d+ threads")


class WorkerProcess:
    """One ``loopback worker`` over the database and queue of ``settings``."""

    def __init__(self, settings: Settings, log_path: Path, **environment: str) -> None:
        self.log_path = log_path
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("LOOPBACK_")}
        self.env.update(
            LOOPBACK_DATA_DIR=str(settings.data_dir),
            LOOPBACK_DATABASE_URL=settings.resolved_database_url,
            LOOPBACK_QUEUE_NAME=settings.queue_name,
            LOOPBACK_EMBEDDED_STORAGE="false",
            **environment,
        )
        if settings.queue_url:
            self.env["LOOPBACK_QUEUE_URL"] = settings.queue_url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, threads: int = 2, timeout: float = 60.0) -> WorkerProcess:
        """Start the worker and wait until it says it runs."""
        self.launch(threads)
        self.wait_started(timeout)
        return self

    def launch(self, threads: int = 2) -> WorkerProcess:
        """Start the worker without waiting for it (several start side by side)."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "loopback", "worker", "--threads", str(threads)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    def wait_started(self, timeout: float = 60.0) -> None:
        def started() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited with {self.process.returncode}:\n{self.output()}")
            return STARTED.search(self.output()) is not None

        wait_for(started, timeout)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the worker stops where it is, its claims and its running tasks left behind."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the worker did not stop on SIGTERM:\n{self.output()}") from None
