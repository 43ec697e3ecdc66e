"""The baseline server: a bare FastAPI app with one ``def`` endpoint, on the uvicorn settings of serve.

Started by ``benchmarks/api.py`` as a process of its own, bound and logging the way ``loopback serve``
does (a listener with TCP_NODELAY, access log at INFO to stderr), so the only difference the figures
show is Loopback's own work. It imports nothing of Loopback: its memory is the baseline's.
Usage: python benchmarks/bare_app.py PORT
"""

from __future__ import annotations

import logging
import socket
import sys

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/bucket")
def bucket() -> dict[str, object]:
    """About the size of a bucket's answer, without a database or a token behind it."""
    return {
        "id": "bkt_0123456789abcdef",
        "name": "a-bucket",
        "provider": "local",
        "region": "local-1",
        "status": "ready",
        "usage": {"object_count": None, "bytes": None, "last_synced_at": None},
    }


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    listener = socket.create_server(("127.0.0.1", int(sys.argv[1])), backlog=2048)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    config = uvicorn.Config(app, log_config=None, access_log=True)
    uvicorn.Server(config).run(sockets=[listener])
