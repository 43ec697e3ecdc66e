"""A stand-in for the one thing ``kubectl create --dry-run=client`` asks a cluster: API discovery.

Client-side dry run still maps a manifest's kind to its resource through the server's discovery
documents (``/api``, ``/apis``, ``/api/v1``); this serves those for core/v1 Secrets alone, so a test
can run the command a cluster operator runs, offline. kubectl then decodes each document into its
compiled-in v1 Secret and prints what it would create. (Validation against the server's OpenAPI
document is a server's: the stand-in has none, so the test passes ``--validate=false``.)
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

DISCOVERY: dict[str, Any] = {
    "/version": {"major": "1", "minor": "31", "gitVersion": "v1.31.0"},
    "/api": {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    },
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            {
                "name": "secrets",
                "singularName": "secret",
                "namespaced": True,
                "kind": "Secret",
                "verbs": ["create"],
            }
        ],
    },
}


class _Discovery(BaseHTTPRequestHandler):
    documents: dict[str, Any] = DISCOVERY

    def do_GET(self) -> None:
        document = self.documents.get(self.path.split("?")[0])
        body = json.dumps(document).encode()
        self.send_response(200 if document is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


class DiscoveryServer:
    """``with DiscoveryServer() as url:`` a Kubernetes API URL that answers discovery, and GETs of
    the ``objects`` given (by path), and 404 for anything else."""

    def __init__(self, objects: dict[str, Any] | None = None) -> None:
        self.handler = type("Handler", (_Discovery,), {"documents": {**DISCOVERY, **(objects or {})}})

    def __enter__(self) -> str:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
