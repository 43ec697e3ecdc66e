"""The driver's gRPC server on the unix socket ``COSI_ENDPOINT`` names, built from its parts.

COSI's specification has the sidecar name the socket (``unix:///path/to/socket.sock``) in
``COSI_ENDPOINT``; only unix sockets are allowed. A socket left by a driver that died is removed
before binding; the driver creates nothing else beside it.
"""

from __future__ import annotations

import stat
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc

from loopback.client.http import ApiClient
from loopback.cosi.access import Access
from loopback.cosi.api import LoopbackApi
from loopback.cosi.buckets import Buckets
from loopback.cosi.claims import Claims
from loopback.cosi.errors import DriverError
from loopback.cosi.servicer import Driver, Identity, handlers

ENDPOINT_ENV = "COSI_ENDPOINT"
DEFAULT_ENDPOINT = "unix:///var/lib/cosi/cosi.sock"
SCHEME = "unix://"


def socket_path(endpoint: str) -> Path:
    """The path of ``unix:///…/x.sock``; anything else is refused, as the specification allows no other."""
    if not endpoint.startswith(SCHEME) or not endpoint[len(SCHEME) :].startswith("/"):
        raise ValueError(f"{ENDPOINT_ENV} must be unix:///absolute/path.sock, not {endpoint!r}")
    return Path(endpoint[len(SCHEME) :])


def clear(path: Path) -> None:
    """Remove a socket an earlier driver left; refuse to remove anything that is not a socket."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ValueError(f"{path} exists and is not a socket: not removing it")
    path.unlink()


@dataclass
class Running:
    server: grpc.Server
    path: Path

    def stop(self, grace: float = 5.0) -> None:
        self.server.stop(grace).wait()
        try:
            clear(self.path)
        except ValueError:
            pass


def start(endpoint: str, identity: Identity, client: ApiClient, claims: Claims, threads: int = 8) -> Running:
    """Serve the driver on ``endpoint`` until ``Running.stop``."""
    path = socket_path(endpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    clear(path)
    api = LoopbackApi(client)
    driver = Driver(identity, Buckets(api), Access(api), claims)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cosi"))
    server.add_generic_rpc_handlers(handlers(driver))
    # Who may open the socket is the pod's business (the shared volume's permissions), as COSI says.
    if server.add_insecure_port(f"unix:{path}") == 0:
        raise DriverError(grpc.StatusCode.UNAVAILABLE, f"cannot listen on {path}")
    server.start()
    return Running(server, path)
