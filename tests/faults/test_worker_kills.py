"""Workers killed with SIGKILL, and started again, while buckets are created, keyed and deleted.

Each burst of requests fills the queue and a worker is killed right after it, so the kill lands
while that worker holds tasks (popped from Redis, never to come back) and claims on buckets. The
system must find that work again on its own: the claim runs out, the resync picks the bucket up.
"""

from __future__ import annotations

import random
import time

from sqlalchemy import func, select

from loopback.buckets.models import Bucket
from loopback.kit.clock import utcnow
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

SEED = 1110
CREATE_BURSTS = 3
CREATES_PER_BURST = 10
KEYS_PER_BURST = 5
DELETE_BURSTS = 2


def claims_held(topology: Topology) -> int:
    """Buckets claimed right now: what the killed worker may have been holding."""
    with topology.runtime.db.session() as session:
        held = select(func.count()).where(Bucket.claimed_until > utcnow())
        return int(session.scalar(held.select_from(Bucket)) or 0)


def restart_all(topology: Topology) -> None:
    """Every worker running and taking tasks, before the system is asked to converge."""
    for index in range(len(topology.workers)):
        topology.restart_worker(index)
    topology.wait_consuming()


def kill_one(topology: Topology, rng: random.Random) -> None:
    """Once the burst is being worked on (buckets are claimed), kill a worker that takes tasks
    (chosen by the seed), and start it again at once: it rejoins after its start-up."""
    deadline = time.monotonic() + 10
    while not (held := claims_held(topology)) and time.monotonic() < deadline:
        time.sleep(0.02)
    while not (at_work := topology.consuming()):
        assert time.monotonic() < deadline + 50, "no worker took tasks within a minute"
        time.sleep(0.1)
    victim = at_work[rng.randrange(len(at_work))]
    topology.kill_worker(victim)
    progress(f"claims held at the kill: {held}")
    topology.restart_worker(victim)


def test_killed_workers_lose_no_create_delete_or_key(topology: Topology, api: Api, ledger: Ledger) -> None:
    rng = random.Random(SEED)

    progress(f"creates: {CREATE_BURSTS} bursts of {CREATES_PER_BURST}, a worker killed after each")
    for burst in range(CREATE_BURSTS):
        for n in range(CREATES_PER_BURST):
            expect(api.create(ledger, f"wk-{burst}-{n:02d}"), 202)
        kill_one(topology, rng)
    restart_all(topology)
    wait_converged(topology, ledger)

    ready = ledger.ready_buckets()
    keyed = rng.sample(ready, 2 * KEYS_PER_BURST)
    progress(f"key issues: 2 bursts of {KEYS_PER_BURST}, a worker killed after each")
    for burst in range(2):
        for bucket_id, _ in keyed[burst * KEYS_PER_BURST : (burst + 1) * KEYS_PER_BURST]:
            expect(api.issue(ledger, bucket_id), 201)
        for n in range(3):  # work for the workers, so the kill lands on one at work
            expect(api.create(ledger, f"wk-keyed-{burst}-{n}"), 202)
        kill_one(topology, rng)
    for credential_id in rng.sample(sorted(ledger.keys), 3):
        expect(api.revoke(ledger, credential_id), 200)
    restart_all(topology)

    # Half the keyed buckets and as many others go: their keys are released by the worker's delete.
    keyed_ids = [bucket_id for bucket_id, _ in keyed]
    plain = [bucket_id for bucket_id, _ in ready if bucket_id not in keyed_ids]
    doomed = rng.sample(keyed_ids, KEYS_PER_BURST) + rng.sample(plain, KEYS_PER_BURST)
    rng.shuffle(doomed)
    per_burst = -(-len(doomed) // DELETE_BURSTS)
    progress(
        f"deletes: {DELETE_BURSTS} bursts of about {per_burst} and 3 creates, a worker killed after each"
    )
    for burst in range(DELETE_BURSTS):
        for bucket_id in doomed[burst * per_burst : (burst + 1) * per_burst]:
            expect(api.delete(ledger, bucket_id), 202)
        for n in range(3):
            expect(api.create(ledger, f"wk-late-{burst}-{n}"), 202)
        kill_one(topology, rng)
    restart_all(topology)
    wait_converged(topology, ledger)

    kills = sum(worker.kills for worker in topology.workers)
    progress(f"{kills} worker kills; {len(ledger.accepted)} creates, {len(ledger.deleted)} deletes, "
             f"{len(ledger.keys)} keys")  # fmt: skip
    assert len(ledger.deleted) == 2 * KEYS_PER_BURST
    assert_nothing_orphaned(topology)
    assert_keys_honest(topology, ledger)
