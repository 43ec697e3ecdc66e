"""``loopback serve`` as a user runs it: a child process, spoken to over HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Databases, wait_for


def processes_mentioning(marker: str) -> list[int]:
    """Pids whose command line mentions ``marker`` (the data directory): what a stop must leave none of."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in command:
            found.append(int(entry.name))
    return found


API_LINE = re.compile(r"API +http://127\.0\.0\.1:(\d+)")


class ServeProcess:
    """One ``loopback serve`` child with its own data directory, port and log file."""

    def __init__(self, data_dir: Path, databases: Databases | None) -> None:
        self.data_dir = data_dir
        # Port 0: serve binds a free port itself and prints it; a port picked here could be taken
        # by another test worker before serve listens, and then another server would answer.
        self.port = 0
        self.url = ""
        self.env = {**os.environ, "LOOPBACK_DATA_DIR": str(data_dir), "LOOPBACK_PORT": "0"}
        if databases is not None and not databases.database_url.startswith("sqlite"):
            self.env["LOOPBACK_DATABASE_URL"] = databases.database_url
            if databases.queue_url:
                self.env["LOOPBACK_QUEUE_URL"] = databases.queue_url
            self.env["LOOPBACK_QUEUE_NAME"] = databases.queue_name
        self.log_path = data_dir.parent / f"serve-{data_dir.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        already = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "loopback", "serve"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.output()}")
            if not self.url:
                printed = API_LINE.search(self.log_path.read_bytes()[already:].decode(errors="replace"))
                if printed is None:
                    return False
                self.port = int(printed.group(1))
                self.url = f"http://127.0.0.1:{self.port}"
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> float:
        """Send ``sig`` and return how many seconds the whole tree took to exit."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        return time.monotonic() - started


@pytest.fixture
def serve_factory(tmp_path: Path) -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for serve in started:
        if serve.process is not None and serve.process.poll() is None:
            # SIGTERM, so serve stops its SeaweedFS children; a SIGKILL here orphaned them
            try:
                serve.stop()
            except subprocess.TimeoutExpired:
                serve.process.wait()
