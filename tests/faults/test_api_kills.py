"""An API process killed with SIGKILL while requests with an Idempotency-Key are in flight.

The client does what the API's documentation tells it to: a request whose answer was lost is
sent again with the same key, to the API started again, until it gets a final answer. Each
create must then answer 202 for exactly one bucket, and each key issue 201 with a key that
works, whether the killed process had committed it or not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import httpx
from sqlalchemy import select

from loopback.buckets.models import Bucket
from tests.faults.checks import (
    CONVERGE_SECONDS,
    Api,
    Ledger,
    assert_keys_honest,
    assert_nothing_orphaned,
    expect,
    wait_converged,
)
from tests.faults.topology import Topology, progress, requires_postgresql_and_redis

pytestmark = requires_postgresql_and_redis

CREATES = 24
ISSUES = 6
CONCURRENCY = 12
KILL_AFTER_ANSWERS = 8


@dataclass
class Outcome:
    """One idempotent request as the client lived it: its final answer and how often it was cut off."""

    what: str
    answer: httpx.Response | None = None
    cut_off: int = 0
    retried: int = 0


def until_final(what: str, send: Callable[[], httpx.Response], done: list[Outcome]) -> Outcome:
    """Send, and send again with the same key while the answer is lost or says to retry."""
    outcome = Outcome(what)
    deadline = time.monotonic() + CONVERGE_SECONDS
    while time.monotonic() < deadline:
        try:
            answer = send()
        except httpx.TransportError:
            outcome.cut_off += 1
            time.sleep(0.3)
            continue
        retry = answer.status_code >= 500 or answer.status_code == 429 or "retry-after" in answer.headers
        if not retry:
            outcome.answer = answer
            break
        outcome.retried += 1
        outcome.answer = answer
        time.sleep(float(answer.headers.get("retry-after", "0.5")))
    done.append(outcome)
    return outcome


def test_a_killed_api_loses_no_idempotent_create_or_key(topology: Topology, api: Api, ledger: Ledger) -> None:
    for n in range(ISSUES):
        expect(api.create(ledger, f"keyed-{n}"), 202)
    wait_converged(topology, ledger)
    keyed = [bucket_id for bucket_id, _ in ledger.ready_buckets()]

    done: list[Outcome] = []
    jobs: list[tuple[str, Callable[[], httpx.Response]]] = []
    for n in range(CREATES):
        name, key = f"idem-{n:02d}", f"create-{n:02d}"
        jobs.append((name, partial(api.create, ledger, name, key)))
        if n % (CREATES // ISSUES) == 0:
            bucket_id = keyed[n // (CREATES // ISSUES)]
            jobs.append((f"key on {bucket_id}", partial(api.issue, ledger, bucket_id, f"issue-{n:02d}")))

    progress(
        f"{len(jobs)} idempotent requests, {CONCURRENCY} at a time; the API dies after {KILL_AFTER_ANSWERS}"
    )
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        futures: list[Future[Outcome]] = [pool.submit(until_final, what, send, done) for what, send in jobs]
        deadline = time.monotonic() + CONVERGE_SECONDS
        while len(done) < KILL_AFTER_ANSWERS and time.monotonic() < deadline:
            time.sleep(0.01)
        topology.api.kill()
        killed_after = len(done)
        topology.api.start()  # in place, on the same port when it is still free
        outcomes = [future.result(timeout=2 * CONVERGE_SECONDS) for future in futures]

    cut = [o for o in outcomes if o.cut_off]
    progress(
        f"the kill came after {killed_after} answers; {len(cut)} requests were cut off, "
        f"{sum(o.retried for o in outcomes)} retries were told to wait"
    )
    assert cut, "the kill came after every request had its answer: nothing was tested"
    wrong = [
        f"{o.what}: {o.answer.status_code if o.answer else 'no answer'} "
        f"{o.answer.text if o.answer else ''} (cut off {o.cut_off}x, told to wait {o.retried}x)"
        for o in outcomes
        if o.answer is None or o.answer.status_code not in {201, 202}
    ]
    assert not wrong, "idempotent requests that never got their answer:\n  " + "\n  ".join(wrong)

    answered = {name: bucket_id for bucket_id, name in ledger.accepted.items() if name.startswith("idem-")}
    assert len(answered) == CREATES
    with topology.runtime.db.session() as session:
        rows = session.execute(select(Bucket.name, Bucket.id).where(Bucket.name.startswith("idem-"))).all()
    by_name: dict[str, list[str]] = {}
    for name, bucket_id in rows:
        by_name.setdefault(name, []).append(bucket_id)
    mismatched = {n: (answered[n], ids) for n, ids in by_name.items() if ids != [answered[n]]}
    assert not mismatched, f"names whose rows are not the one bucket answered: {mismatched}"

    wait_converged(topology, ledger)
    assert_nothing_orphaned(topology)
    assert_keys_honest(topology, ledger)
