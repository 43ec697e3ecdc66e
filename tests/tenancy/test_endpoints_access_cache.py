"""What authentication and scope cost a request, and how soon a change of access holds.

A request's token and reach are remembered for ``LOOPBACK_ACCESS_CACHE_SECONDS`` (one by default):
a warm request spends its statements on what it asked for only; a change committed through any
session of the process empties the memory at once (the revocation and role tests of this folder
prove that); a change the process cannot see, such as another replica's, holds within the time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update

from loopback.app import create_app
from loopback.kit.clock import utcnow
from loopback.kit.errors import Unauthorized
from loopback.runtime import Runtime
from loopback.tenancy.access_cache import AccessCache
from loopback.tenancy.models import ApiToken
from tests.conftest import BUCKETS, OPERATOR_HEADERS, wait_for


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """The SQL statements the database receives inside the block."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(runtime.db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", record)


def test_authentication_and_scope_cost_two_statements_cold_and_none_warm(runtime: Runtime) -> None:
    app = create_app(runtime)  # no worker: the statements counted are the request's alone
    with TestClient(app, headers=OPERATOR_HEADERS) as client:
        created = client.post(
            BUCKETS, json={"name": "cost-of-a-read", "provider": "local", "region": "local-1"}
        )
        assert created.status_code == 202, created.text
        one = f"{BUCKETS}/{created.json()['id']}"

        app.state.access_cache.forget_everything()
        app.state.access_cache.ttl = 60.0  # warm for the whole test, however slow the machine
        with statements(runtime) as cold:
            assert client.get(one).status_code == 200
        with statements(runtime) as warm:
            assert client.get(one).status_code == 200

    reads = [s for s in cold if s.startswith("SELECT")]
    # the token with its user; the organization with the role and the project; the bucket
    assert len(reads) == 3, [s[s.find(" FROM ") :][:90] for s in reads]
    assert [s for s in warm if s.startswith("SELECT")] == [s for s in reads if "FROM buckets" in s], warm


def test_a_warm_read_of_one_bucket_leaves_the_event_loop_once(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Authentication and scope answer from memory on the loop, and the route opens, uses and closes
    its session in one worker thread: each hop to a thread costs milliseconds under load (issue 14)."""
    app = create_app(runtime)
    hops: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(function, "__qualname__", repr(function)))
        return await run_sync(function, *args, **kwargs)

    with TestClient(app, headers=OPERATOR_HEADERS) as client:
        created = client.post(
            BUCKETS, json={"name": "one-hop-read", "provider": "local", "region": "local-1"}
        )
        assert created.status_code == 202, created.text
        one = f"{BUCKETS}/{created.json()['id']}"
        app.state.access_cache.ttl = 60.0  # warm for the whole test, however slow the machine
        assert client.get(one).status_code == 200
        monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
        answer = client.get(one)
        missing = client.get(f"{BUCKETS}/bkt_missing")
    assert answer.status_code == 200, answer.text
    assert missing.status_code == 404, missing.text
    assert len(hops) == 2, hops  # one each, the 404 included


def test_a_revocation_the_process_cannot_see_holds_within_the_cache_time(
    client: TestClient, runtime: Runtime
) -> None:
    client.app.state.access_cache.ttl = 1.0  # type: ignore[attr-defined]  # the default, whatever the tests set
    made = client.post("/v3/user/tokens", json={"name": "elsewhere"})
    assert made.status_code == 201, made.text
    token = {"Authorization": f"Bearer {made.json()['token']}"}
    assert client.get("/v3/user", headers=token).status_code == 200  # remembered from here on

    # Another replica revokes it: a statement outside every session of this process.
    with runtime.db.engine.begin() as connection:
        connection.execute(
            update(ApiToken).where(ApiToken.id == made.json()["id"]).values(revoked_at=utcnow())
        )
    # Remembered for a second at most: without the expiry it would stay 200 for good.
    wait_for(lambda: client.get("/v3/user", headers=token).status_code == 401, timeout=10, interval=0.05)


def test_requests_that_miss_together_read_once_unless_access_changed_meanwhile() -> None:
    """When an entry expires, the requests in flight for it wait for one read (issue 14: sixteen
    connections missed together every second, each taking worker threads); a change committed
    during that read, or a failed read, sends each waiter to read for itself."""
    cache = AccessCache(ttl=60.0)
    reads: list[str] = []

    async def scenario() -> None:
        release = anyio.Event()

        async def read() -> str:
            reads.append("read")
            await release.wait()
            return f"value {len(reads)}"

        answers: list[str] = []

        async def ask(key: str) -> None:
            answers.append(await cache.remember(key, read))

        async with anyio.create_task_group() as group:
            for _ in range(16):
                group.start_soon(ask, "together")
            await anyio.wait_all_tasks_blocked()
            release.set()
        assert reads == ["read"]
        assert answers == ["value 1"] * 16

        release = anyio.Event()
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(ask, "changed")
            await anyio.wait_all_tasks_blocked()
            cache.forget_everything()  # e.g. a revocation committed while the first read ran
            release.set()
        assert len(reads) == 1 + 3  # the first read's value answers only the one that read it

        async def refused() -> str:
            reads.append("refused")
            await anyio.sleep(0.01)
            raise Unauthorized("unknown token")

        failures: list[Exception] = []

        async def refused_ask() -> None:
            try:
                await cache.remember("refused", refused)
            except Unauthorized as error:
                failures.append(error)

        reads.clear()
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(refused_ask)
        assert reads == ["refused"] * 3
        assert len(failures) == 3

    anyio.run(scenario)
