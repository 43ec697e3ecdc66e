"""The storage stopped (SIGSTOP, then SIGCONT) and killed (SIGKILL, then started on its port and data).

While it is gone, tenants keep creating, deleting and asking for keys. A create is only recorded
(202); a delete and a key issue ask the storage first, so each answers once it can: done (202,
201) or a 503 problem that recorded nothing. Whatever was answered, the system must end where
the answers say, with nothing left at the storage that no row accounts for.
"""

from __future__ import annotations

import random
import signal
import time
from concurrent.futures import Future, ThreadPoolExecutor

import httpx

from tests.faults.checks import (
    Api,
    Ledger,
    assert_keys_honest,
    assert_nothing_orphaned,
    expect,
    wait_converged,
)
from tests.faults.topology import Topology, progress, requires_postgresql_and_redis

pytestmark = requires_postgresql_and_redis

SEED = 1120
STOPPED_SECONDS = 15.0
KILLED_SECONDS = 5.0


def answered_while_down(
    topology: Topology, api: Api, ledger: Ledger, rng: random.Random, tag: str, down_for: float
) -> None:
    """Creates, deletes and key issues against the missing storage, then the storage back after
    ``down_for``: each call is expected to be done or refused with a problem, never lost."""
    ready = ledger.ready_buckets()
    keyless = [b for b in ready if all(k.bucket_id != b[0] for k in ledger.keys.values())]
    keyed = sorted({k.bucket_id for k in ledger.keys.values() if k.credential_id not in ledger.revoked})
    deletes = [keyed[rng.randrange(len(keyed))], keyless.pop(rng.randrange(len(keyless)))[0]]
    issues = [keyless.pop(rng.randrange(len(keyless)))[0] for _ in range(2)]
    went = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        calls: list[tuple[str, Future[httpx.Response]]] = [
            *((f"delete {b}", pool.submit(api.delete, ledger, b)) for b in deletes),
            *((f"issue on {b}", pool.submit(api.issue, ledger, b)) for b in issues),
        ]
        for n in range(6):  # a create only records: it answers at once, storage or not
            asked = time.monotonic()
            expect(api.create(ledger, f"{tag}-{n}"), 202)
            assert time.monotonic() - asked < 10, "a create waited on the storage"
        time.sleep(max(0.0, down_for - (time.monotonic() - went)))
        if tag == "stopped":
            topology.signal_storage(signal.SIGCONT)
        else:
            topology.restart_storage()
        for what, call in calls:
            answer = call.result(timeout=120)
            progress(f"{what} while the storage was {tag}: {answer.status_code}")
            expect(answer, 201, 202, 503)
            if answer.status_code == 503:
                assert answer.headers["content-type"] == "application/problem+json", answer.text


def test_storage_stopped_and_killed_loses_and_leaks_nothing(
    topology: Topology, api: Api, ledger: Ledger
) -> None:
    rng = random.Random(SEED)
    for n in range(10):
        expect(api.create(ledger, f"before-{n}"), 202)
    wait_converged(topology, ledger)
    for bucket_id, _ in ledger.ready_buckets()[:4]:
        expect(api.issue(ledger, bucket_id), 201)

    topology.signal_storage(signal.SIGSTOP)
    answered_while_down(topology, api, ledger, rng, "stopped", STOPPED_SECONDS)
    wait_converged(topology, ledger)
    assert_nothing_orphaned(topology)
    assert_keys_honest(topology, ledger)

    killed = topology.signal_storage(signal.SIGKILL)
    progress(f"SeaweedFS killed: {killed}")
    answered_while_down(topology, api, ledger, rng, "killed", KILLED_SECONDS)
    wait_converged(topology, ledger)
    assert_nothing_orphaned(topology)
    assert_keys_honest(topology, ledger)  # keys issued before the kill still work after it
