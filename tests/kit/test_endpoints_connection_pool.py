"""Under load the API reuses its database connections: none is opened per request.

The pool keeps one connection per thread that may hold one (``Settings.database_connections``).
With SQLAlchemy's default of 5 kept and 10 more closed on return, sixteen clients at once opened
and closed connections on every burst.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import event

from loopback.app import create_app
from loopback.runtime import Runtime
from tests.conftest import BUCKETS, OPERATOR_HEADERS
from tests.live_server import LiveServer

CLIENTS = 16


def burst(url: str, requests_each: int) -> list[int]:
    def client_loop(_: int) -> list[int]:
        with httpx.Client(base_url=url, headers=OPERATOR_HEADERS, timeout=30) as client:
            return [client.get(BUCKETS).status_code for _ in range(requests_each)]

    with ThreadPoolExecutor(CLIENTS) as clients:
        return [status for statuses in clients.map(client_loop, range(CLIENTS)) for status in statuses]


def test_sixteen_clients_open_no_connection_once_the_pool_is_warm(runtime: Runtime) -> None:
    """No connection is closed under load, so none is opened twice: the pool only grows to its size.

    How many connections the first burst opens depends on how many requests overlapped, which
    the scheduler decides; churn is what the old pool showed, so churn is what is counted.
    """
    opened: list[object] = []
    closed: list[object] = []
    event.listen(runtime.db.engine, "connect", lambda connection, _record: opened.append(connection))
    event.listen(runtime.db.engine, "close", lambda connection, _record: closed.append(connection))
    with LiveServer(create_app(runtime)) as server:
        assert set(burst(server.url, 10)) == {200}
        assert set(burst(server.url, 20)) == {200}
        assert closed == [], f"{len(closed)} connections closed under load"
    assert len(opened) <= runtime.settings.database_connections
