"""The API over real HTTP from a thread of the test process, for clients that need a URL (the CLI)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI


class LiveServer:
    """uvicorn serving ``app`` on a free port of 127.0.0.1 until the ``with`` block ends.

    The listening socket is bound here and handed to uvicorn, so no other process can take the
    port between choosing it and listening on it.
    """

    def __init__(self, app: FastAPI, start_timeout: float = 15.0) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=5,
            # A client thread starved for uvicorn's 5 s on a loaded machine met a closed keep-alive
            # connection (ECONNRESET): the tests measure the API, not that race.
            timeout_keep_alive=60,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=f"api-{self.port}", daemon=True
        )
        self._start_timeout = start_timeout

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + self._start_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the API did not start on {self.url}")
            time.sleep(0.02)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()
