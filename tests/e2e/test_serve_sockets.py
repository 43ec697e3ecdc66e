"""The sockets of a live ``loopback serve``, read from the server's side.

Without TCP_NODELAY on an accepted connection, uvicorn's two writes per answer (head, then body)
wait for the client's delayed ACK, and every keep-alive answer took about 40 ms. The option lives on
the server's socket, which no client can see, so this test borrows that socket from the serve
process itself (Linux's ``pidfd_getfd``, allowed to the process's owner) and asks it.
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ServeProcess

SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture (the syscall table was unified)


def borrowed_sockets(pid: int) -> list[socket.socket]:
    """Duplicates of every socket ``pid`` holds open, for reading their options here."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    found = []
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(name), 0)
            if fd < 0:
                continue  # closed meanwhile
            try:
                found.append(socket.socket(fileno=fd))
            except OSError:  # not a socket
                os.close(fd)
    finally:
        os.close(pidfd)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pidfd_getfd is Linux's")
def test_every_accepted_connection_sends_without_waiting_for_an_ack(
    tmp_path: Path, serve_factory: list[ServeProcess]
) -> None:
    serve = ServeProcess(tmp_path / "data", None)
    serve.env["LOOPBACK_EMBEDDED_STORAGE"] = "false"  # only the API is asked
    serve_factory.append(serve)
    serve.start()
    assert serve.process is not None

    with socket.create_connection(("127.0.0.1", serve.port)) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: loopback\r\n\r\n")
        assert client.recv(4096).startswith(b"HTTP/1.1 200")  # accepted, answered, still open
        ours = client.getsockname()

        server_side = borrowed_sockets(serve.process.pid)
        try:
            accepted = [s for s in server_side if s.family == socket.AF_INET and _peer(s) == ours]
            assert len(accepted) == 1, f"the serve process holds no socket connected to {ours}"
            assert accepted[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        finally:
            for borrowed in server_side:
                borrowed.close()


def _peer(borrowed: socket.socket) -> object:
    try:
        return borrowed.getpeername()
    except OSError:  # a listener, or not connected
        return None
