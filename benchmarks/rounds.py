"""The usage and drift rounds of issue 14 over ``--buckets`` buckets on a real embedded SeaweedFS,
each beside its baseline measured in the same run.

- usage: one full round (``sync_all_usage``, its batches run by a real Huey consumer of
  ``--threads`` threads, as ``serve`` runs it) against N x one bucket's sync (``sync_usage``, the
  work of a tenant's refresh: its rows, its provider calls, its write), p50 of ``--sample``
  buckets; and, as the floor no round can go under, against N x the provider calls themselves
  (ListObjectVersions + ListMultipartUploads with raw boto3, p50);
  That first round lists every bucket (none was listed before); a later round lists only the
  buckets whose stored data changed since (``admin_api: seaweedfs``: the master's volume counters
  say which), so ``--written`` buckets get an object after it, and the next round is timed too,
  against the same baseline: that is the round a running installation makes every period;
- drift: one round (``check_drift``) against N x one HeadBucket with raw boto3 (p50 of
  ``--sample``); three buckets are removed behind the round's back first, and it must find them.

Every bucket is created at SeaweedFS (raw CreateBucket, ``--create-threads`` at once) and recorded
as a ready row by bulk SQL, in one project; they are empty, as most buckets of a new installation
are (both sides of each figure list the same buckets, so what they hold changes both alike).
The most memory each round holds is measured apart, untimed, under ``tracemalloc``: the drift round
run again, and the usage round's enumeration plus one of its batches (every batch holds as much).

``--native ceph`` adds, in its own database, the usage round over N ready buckets of a provider of
family ``s3`` with ``admin_api: ceph``, whose usage RGW's admin API answers for the whole region in
one call, against a local stand-in of that API holding those N buckets (the one the tests use: it
checks every request's SigV4 signature and path against Ceph's published contract), run through a
real Huey consumer as above, beside N x one bucket's sync on the same provider (a tenant's refresh:
one Get Bucket Info ``&bucket=NAME``). Its time is the control plane's own plus a local HTTP
server's, not a real RGW's. ``--no-seaweedfs`` skips the SeaweedFS rows (and starting SeaweedFS).

Usage: .venv/bin/python benchmarks/rounds.py [--buckets 10000] [--backends sqlite,postgresql]
  [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--threads 2] [--concurrency 4]
  [--native ceph] [--no-seaweedfs]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config
from lists import database
from pydantic import SecretStr
from report import Figure, p50, print_figures, timed
from sqlalchemy import func, insert, select

from loopback.buckets.models import Bucket, BucketStatus
from loopback.buckets.rounds import RoundLimits
from loopback.buckets.service import BucketService
from loopback.kit.clock import utcnow
from loopback.kit.ids import new_id
from loopback.kit.leases import RoundLeases
from loopback.kit.settings import Settings
from loopback.migrations import upgrade
from loopback.providers.models import Provider, Region
from loopback.providers.s3_admin.seaweedfs import volume_entries
from loopback.providers.schemas import ProviderCreate, RegionIn
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from loopback.serve import register_embedded_storage
from loopback.tenancy.models import Project
from loopback.tenancy.service import bootstrap

# The RGW stand-in is imported from tests/ rather than copied: it checks each request's SigV4
# signature and path against Ceph's published admin API, and a copy here would drift from it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.providers.admin_standins import RgwStandIn

GOAL = 0.1
MS = 1000.0
VANISHED = 3
INSERT_BATCH = 5000
NATIVE_KEY_ID, NATIVE_SECRET = "LOOPBACKADMIN0000001", "bench-secret-of-the-operators-service-key"
NATIVE_REGION, NATIVE_UID = "r1", "loopback"


def operator_s3(storage: EmbeddedSeaweedFS, threads: int) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=storage.endpoint,
        aws_access_key_id=storage.identity.access_key_id,
        aws_secret_access_key=storage.identity.secret_access_key,
        region_name="local-1",
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=max(threads, 10)),
    )


def list_all(s3: Any) -> int:
    """Every bucket name, as the drift round reads them: ListBuckets in pages of 1000."""
    count, token = 0, None
    while True:
        page = s3.list_buckets(MaxBuckets=1000, **({"ContinuationToken": token} if token else {}))
        count += len(page["Buckets"])
        token = page.get("ContinuationToken")
        if not token:
            return count


def create_buckets(storage: EmbeddedSeaweedFS, count: int, threads: int) -> tuple[list[str], float]:
    """``count`` buckets at SeaweedFS; answers their names and the seconds it took."""
    prefix = f"rb-{secrets.token_hex(3)}"
    names = [f"{prefix}-{number:07d}" for number in range(count)]
    s3 = operator_s3(storage, threads)
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda name: s3.create_bucket(Bucket=name), names))
    return names, time.perf_counter() - started


def record_buckets(runtime: Runtime, names: list[str], provider_name: str = "local") -> None:
    """A ready row per bucket at ``provider_name`` in demo/default, by bulk insert."""
    with runtime.db.session() as session:
        project = session.scalars(select(Project).where(Project.slug == "default")).one()
        provider = session.scalars(select(Provider).where(Provider.name == provider_name)).one()
        region = session.scalars(select(Region).where(Region.provider_id == provider.id)).one()
        now = utcnow()
        for start in range(0, len(names), INSERT_BATCH):
            session.execute(
                insert(Bucket),
                [
                    {
                        "id": new_id("bkt"),
                        "organization_id": project.organization_id,
                        "project_id": project.id,
                        "name": name,
                        "provider_id": provider.id,
                        "region_id": region.id,
                        "status": BucketStatus.READY,
                        "desired_state": "present",
                        "generation": 1,
                        "observed_generation": 1,
                        "endpoint": region.endpoint,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for name in names[start : start + INSERT_BATCH]
                ],
            )


def bucket_ids_by_name(runtime: Runtime) -> list[str]:
    """Every bucket's id, in the order of their names."""
    with runtime.db.session() as session:
        return list(session.scalars(select(Bucket.id).order_by(Bucket.name)))


def synced_count(runtime: Runtime, since: Any) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).where(Bucket.last_synced_at >= since)) or 0)


def consumed_usage_round(runtime: Runtime, threads: int, expected: int) -> float:
    """One usage round, its batches run by a real Huey consumer of ``threads`` threads."""
    consumer = runtime.automation.create_consumer(threads, embedded=True)
    consumer.start()
    consumer.rounds.stop()  # the benchmark starts the rounds itself, never the wall clock
    try:
        return timed(lambda: usage_round(runtime, expected))
    finally:
        consumer.stop(graceful=True)


def usage_round(runtime: Runtime, expected: int) -> float:
    """One usage round through the queue and the consumer, until its lease says it ended."""
    leases = RoundLeases(runtime.db)
    since = utcnow()
    started = time.perf_counter()
    enqueued = runtime.buckets.sync_all_usage()
    if enqueued != expected:
        raise SystemExit(f"the usage round enqueued {enqueued} buckets, not {expected}")
    deadline = time.monotonic() + 3600
    while leases.state("usage").running:
        if time.monotonic() > deadline:
            raise SystemExit("the usage round did not end within an hour")
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    synced = synced_count(runtime, since)
    if synced != expected:
        raise SystemExit(f"the usage round refreshed {synced} buckets, not {expected}")
    return elapsed


def wait_for_the_master(storage: EmbeddedSeaweedFS, buckets: list[str]) -> None:
    """Until the master counts a needle in each of ``buckets`` (volume servers report every few
    seconds), so the next round sees them as changed."""
    deadline = time.monotonic() + 120
    while True:
        status = httpx.get(f"{storage.master_url}/vol/status", timeout=10).json()
        counted = {v["Collection"] for v in volume_entries(status) if v.get("FileCount")}
        if set(buckets) <= counted:
            return
        if time.monotonic() > deadline:
            raise SystemExit("the SeaweedFS master did not count the written objects within 2 minutes")
        time.sleep(0.5)


def listed_count(runtime: Runtime, since: Any) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).where(Bucket.usage_listed_at >= since)) or 0)


def traced_mib(action: Callable[[], object]) -> float:
    """The most memory Python allocated while ``action`` ran (``tracemalloc``: untimed runs only)."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def usage_round_memory(runtime: Runtime, limits: RoundLimits) -> float:
    """What a usage round holds at once: its enumeration of every bucket, then one batch (any batch
    holds as much). The round's other batches are never run: its lease is released instead."""
    asked: list[tuple[Any, ...]] = []

    def keep(task: str, *args: Any, delay: float | None = None) -> None:
        asked.append(args)

    service = BucketService(runtime.db, runtime.providers, keep, limits)
    peak = traced_mib(service.sync_all_usage)
    token, first = asked[0]
    peak = max(peak, traced_mib(lambda: service.sync_usage_batch(token, first)))
    RoundLeases(runtime.db).release("usage", token)
    return peak


@contextmanager
def bootstrapped(
    backend: str, args: argparse.Namespace, storage: EmbeddedSeaweedFS | None = None
) -> Iterator[Runtime]:
    """A runtime on a new database of ``backend``, bootstrapped (and given ``storage``, if any)."""
    with (
        tempfile.TemporaryDirectory(prefix="loopback-rounds-") as directory,
        database(backend, args.postgres, Path(directory) / "rounds.db") as url,
    ):
        upgrade(url)
        settings = Settings(
            data_dir=Path(directory) / "data",
            database_url=url,
            queue_url=args.redis if backend == "postgresql" and args.redis else None,
            queue_name=f"bench-rounds-{secrets.token_hex(3)}",
            embedded_storage=False,
            bootstrap_token="lbk_bench-rounds",
            provider_concurrency=args.concurrency,
            round_batch=args.batch,
        )
        runtime = Runtime.from_settings(settings)
        with runtime.db.session() as session:
            bootstrap(session, settings)
            if storage is not None:
                register_embedded_storage(runtime, session, storage)
        try:
            yield runtime
        finally:
            runtime.close()


def sampled_around(
    part: Callable[[list[str]], object], sample: list[str], action: Callable[[], float]
) -> float:
    """``part`` over half of ``sample``, then ``action`` (answering its seconds), then the other half:
    a machine whose load changes meanwhile weighs on both sides alike."""
    half = len(sample) // 2
    part(sample[:half])
    seconds = action()
    part(sample[half:])
    return seconds


def round_figure(
    name: str, seconds: float, samples: list[float], count: int, goal: float, note: str
) -> Figure:
    """One round's ``seconds`` beside ``count`` x the p50 of ``samples`` (seconds each), in ms."""
    return Figure(name, seconds * MS, p50(samples) * count * MS, "ms", goal, note=note)


def run(backend: str, args: argparse.Namespace, storage: EmbeddedSeaweedFS, names: list[str]) -> None:
    with bootstrapped(backend, args, storage) as runtime:
        record_buckets(runtime, names)
        count = len(names)
        s3 = operator_s3(storage, 1)
        sample = names[: args.sample]

        # baselines: a bucket's sync as a refresh does it; its provider calls alone; one HeadBucket.
        # Half of each is sampled before its round and half after, so a machine whose load changes
        # meanwhile weighs on both sides alike.
        ids = dict(zip(names, bucket_ids_by_name(runtime), strict=True))
        one_sync: list[float] = []
        raw_calls: list[float] = []
        heads: list[float] = []

        def baselines(part: list[str]) -> None:
            for name in part:
                one_sync.append(timed(lambda n=name: runtime.buckets.sync_usage(ids[n])))
                raw_calls.append(
                    timed(
                        lambda n=name: (
                            s3.list_object_versions(Bucket=n),
                            s3.list_multipart_uploads(Bucket=n),
                        )
                    )
                )
                heads.append(timed(lambda n=name: s3.head_bucket(Bucket=n)))

        half = len(sample) // 2
        baselines(sample[:half])
        listing = timed(lambda: list_all(s3))
        usage_seconds = consumed_usage_round(runtime, args.threads, count)
        written = names[args.sample : args.sample + args.written]
        for name in written:  # what tenants stored during one period
            s3.put_object(Bucket=name, Key="written", Body=b"w" * 1000)
        wait_for_the_master(storage, written)
        since = utcnow()
        later_seconds = consumed_usage_round(runtime, args.threads, count)
        relisted = listed_count(runtime, since)
        if relisted != len(written):
            raise SystemExit(
                f"the later usage round listed {relisted} buckets, not the {len(written)} written"
            )
        usage_peak = usage_round_memory(runtime, RoundLimits(args.batch, args.concurrency))

        vanished = names[-VANISHED:]
        for name in vanished:  # removed behind the round's back
            s3.delete_bucket(Bucket=name)
        found: list[int] = []
        drift_seconds = timed(lambda: found.append(runtime.buckets.check_drift()))
        if found != [VANISHED]:
            raise SystemExit(f"the drift round found {found} lost, not {VANISHED}")
        baselines(sample[half:])
        drift_peak = traced_mib(runtime.buckets.check_drift)
        for name in vanished:  # as they were, for the next backend's run
            s3.create_bucket(Bucket=name)

    figures = [
        round_figure(
            f"first usage round over {count:,} buckets (each listed) / {count:,} x one bucket's sync",
            usage_seconds,
            one_sync,
            count,
            GOAL,
            f"one sync p50 {p50(one_sync) * MS:.2f} ms; round {count / usage_seconds:.0f} buckets/s",
        ),
        round_figure(
            f"later usage round, {len(written)} of {count:,} buckets written since / {count:,} x one sync",
            later_seconds,
            one_sync,
            count,
            GOAL,
            f"{relisted} listed, the rest known unchanged from one /vol/status per batch",
        ),
        round_figure(
            f"usage round over {count:,} buckets / {count:,} x its provider calls",
            usage_seconds,
            raw_calls,
            count,
            1.0,
            "the floor: ListObjectVersions + ListMultipartUploads p50 "
            f"{p50(raw_calls) * MS:.2f} ms; not a goal of the issue",
        ),
        round_figure(
            f"drift round over {count:,} buckets / {count:,} x one HeadBucket",
            drift_seconds,
            heads,
            count,
            GOAL,
            f"HeadBucket p50 {p50(heads) * MS:.2f} ms; ListBuckets of all {listing * MS:.0f} ms; "
            f"{VANISHED} found lost",
        ),
    ]
    title = (
        f"{backend}: rounds over {count:,} buckets ({args.threads} worker threads, "
        f"{args.concurrency} calls per provider, batches of {args.batch}); "
        f"most memory a round held (tracemalloc, untimed): usage {usage_peak:.1f} MiB, "
        f"drift {drift_peak:.1f} MiB"
    )
    print_figures(title, figures)


def run_native(backend: str, args: argparse.Namespace) -> None:
    """The usage round of a provider with ``admin_api: ceph`` over ``--buckets`` buckets, against
    the RGW stand-in, beside N x one bucket's sync (a tenant's refresh) on the same provider."""
    count = args.buckets
    names = [f"nb-{number:07d}" for number in range(count)]
    with (
        RgwStandIn(NATIVE_KEY_ID, NATIVE_SECRET, NATIVE_REGION, NATIVE_UID) as rgw,
        bootstrapped(backend, args) as runtime,
    ):
        rgw.buckets = {name: {} for name in names}  # empty, as the SeaweedFS rows' buckets are
        spec = ProviderCreate(
            name="native",
            family="s3",
            access_key_id=NATIVE_KEY_ID,
            secret_access_key=SecretStr(NATIVE_SECRET),
            settings={"admin_api": args.native, "admin_uid": NATIVE_UID},
            regions=[RegionIn(code=NATIVE_REGION, name="Region one", endpoint=rgw.url)],
        )
        with runtime.db.session() as session:
            runtime.providers.create(session, spec)
            session.commit()
        record_buckets(runtime, names, "native")
        ids = dict(zip(names, bucket_ids_by_name(runtime), strict=True))
        one_sync: list[float] = []

        def baselines(part: list[str]) -> None:
            one_sync.extend(timed(partial(runtime.buckets.sync_usage, ids[name])) for name in part)

        usage_seconds = sampled_around(
            baselines,
            names[: args.sample],
            lambda: consumed_usage_round(runtime, args.threads, count),
        )
        asked = rgw.calls(RgwStandIn.PATH)
        region_calls = sum("uid" in query for query in asked)  # the round's; the rest, one bucket's
        refused = [status for _, _, status in rgw.requests if status != 200]
        if region_calls != 1 or len(asked) != 1 + len(one_sync) or refused:
            raise SystemExit(f"RGW was asked {asked[:3]}... ({len(asked)} calls), refused: {refused}")

    figure = round_figure(
        f"usage round over {count:,} {args.native} buckets / {count:,} x one bucket's sync",
        usage_seconds,
        one_sync,
        count,
        GOAL,
        f"one sync (&bucket=NAME) p50 {p50(one_sync) * MS:.2f} ms; round {count / usage_seconds:.0f} "
        "buckets/s, 1 region-wide admin call; against a stand-in of RGW's admin API",
    )
    title = (
        f"{backend}: usage round of a provider with admin_api: {args.native} over {count:,} buckets "
        f"({args.threads} worker threads, batches of {args.batch})"
    )
    print_figures(title, [figure])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--buckets", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=200, help="buckets timed for each baseline")
    parser.add_argument("--threads", type=int, default=2, help="worker threads running the batches")
    parser.add_argument("--concurrency", type=int, default=4, help="calls at once per provider")
    parser.add_argument("--batch", type=int, default=500, help="buckets per batch")
    parser.add_argument(
        "--written", type=int, default=40, help="buckets written between the first and the later usage round"
    )
    parser.add_argument("--create-threads", type=int, default=8)
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default=None, help="redis://... for the PostgreSQL run's queue")
    parser.add_argument(
        "--native", choices=["ceph"], default=None, help="also the usage round read by the admin API"
    )
    parser.add_argument(
        "--seaweedfs", action=argparse.BooleanOptionalAction, default=True, help="the SeaweedFS rows"
    )
    args = parser.parse_args()
    if args.native:
        for backend in args.backends.split(","):
            run_native(backend.strip(), args)
    if not args.seaweedfs:
        return
    with tempfile.TemporaryDirectory(prefix="loopback-rounds-storage-") as directory:
        with EmbeddedSeaweedFS(Path(directory) / "seaweedfs") as storage:
            names, seconds = create_buckets(storage, args.buckets, args.create_threads)
            print(
                f"created {len(names):,} buckets at SeaweedFS in {seconds:.0f} s "
                f"({len(names) / seconds:.0f}/s, {args.create_threads} at once)",
                flush=True,
            )
            for backend in args.backends.split(","):
                started = time.perf_counter()
                run(backend.strip(), args, storage, names)
                print(f"{backend}: {time.perf_counter() - started:.0f} s in all\n", flush=True)


if __name__ == "__main__":
    main()
