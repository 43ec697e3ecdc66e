"""``loopback cosi-driver``: serve COSI's gRPC API on ``COSI_ENDPOINT`` until SIGTERM or Ctrl-C.

It acts with ``LOOPBACK_TOKEN`` (an organization's or a project's token) at ``LOOPBACK_API_URL``,
as every API command does, and checks the token before it listens.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated, Any

import typer

from loopback.client.command import ApiCommand
from loopback.client.http import v3
from loopback.client.operations import calls
from loopback.client.options import Options, with_options
from loopback.cosi.api import OPERATIONS
from loopback.cosi.server import DEFAULT_ENDPOINT, ENDPOINT_ENV

DRIVER_NAME = "cosi.loopback.dev"
PANEL = "Kubernetes"

EndpointOption = Annotated[
    str, typer.Option("--endpoint", envvar=ENDPOINT_ENV, help="unix:///path.sock the sidecar connects to")
]
NameOption = Annotated[
    str,
    typer.Option(
        "--driver-name", envvar="LOOPBACK_COSI_DRIVER_NAME", help="the driverName the cluster's classes give"
    ),
]
ClusterOption = Annotated[
    str | None,
    typer.Option(
        "--cluster", envvar="LOOPBACK_COSI_CLUSTER", help="the cluster's name in its buckets' install links"
    ),
]
WaitOption = Annotated[
    float,
    typer.Option(
        "--max-wait",
        min=0.5,
        envvar="LOOPBACK_COSI_MAX_WAIT_SECONDS",
        help="seconds a call waits for a bucket when the sidecar set no deadline",
    ),
]


@with_options()
def cosi_driver(
    options: Options,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    driver_name: NameOption = DRIVER_NAME,
    cluster: ClusterOption = None,
    max_wait: WaitOption = 50.0,
) -> None:
    """Serve Kubernetes' COSI (v1alpha2) on a unix socket for COSI's sidecar: BucketClaims become
    Loopback buckets and BucketAccesses keys, made through the API with this token."""
    from loopback.cosi.claims import in_cluster
    from loopback.cosi.server import start
    from loopback.cosi.servicer import Identity

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopping = threading.Event()
    with options.api() as client:
        token = client.get(v3("token"))  # a bad token or URL stops here, before the sidecar connects
        try:
            running = start(endpoint, Identity(driver_name, cluster, max_wait), client, in_cluster())
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--endpoint") from None
        previous = {s: signal.signal(s, lambda *_: stopping.set()) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            show = options.printer()
            started: dict[str, Any] = {
                "driver": driver_name,
                "endpoint": endpoint,
                "api_url": client.connection.api_url,
                "token": token.body,
            }
            if show.json:
                show.document(started)
            else:
                show.note(f"COSI driver {driver_name} on {endpoint}, acting at {client.connection.api_url}")
            while not stopping.wait(0.5):  # a timed wait: the signal handler runs in between
                pass
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            running.stop()


def register(app: typer.Typer) -> None:
    """Add ``cosi-driver`` to the ``loopback`` command."""
    app.command("cosi-driver", cls=ApiCommand, rich_help_panel=PANEL)(
        calls(cosi_driver, "GET /v3/token", *OPERATIONS)
    )
