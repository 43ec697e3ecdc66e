"""The usage round: object count, bytes and last sync time of ready buckets, read from their provider.

What is counted is ``providers.base.Usage``: every stored version and every uploaded part of an
unfinished multipart upload, as providers bill them. Reading it walks a bucket at the provider, so
the work is done in batches, never a task per bucket:

- the periodic round claims its lease (``kit.leases``: a slow round is never started again on top of
  itself) and walks each provider region's ready buckets a page at a time (``rounds.pages``),
  enqueueing one ``usage.sync_batch`` task per page, which any worker may run;
- a batch reads its rows in one transaction, asks the provider about each bucket in that provider's
  bounded pool (``providers.pools``), with no transaction open, and writes every answer in one
  statement over many rows, only to buckets still ready; a provider that keeps statistics of its
  own (``providers.base.region_usage``) is asked once per region for all the batch's buckets;
- the round ends when its last batch has answered; a batch of a round whose lease another run has
  taken over (it ran out: its process died) is left, since the newer run reads the same buckets.

A tenant's refresh of one bucket is the same work for a batch of one (``usage.sync``), outside any round.
Every step is safe to run twice: it overwrites a bucket's usage with what the provider says now.
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from loopback.buckets import repository, rounds
from loopback.buckets.rounds import RoundLimits
from loopback.buckets.samples import Sample, record_samples
from loopback.kit.clock import utcnow
from loopback.kit.db import Database
from loopback.kit.enqueue import Enqueue
from loopback.kit.leases import RoundLeases
from loopback.providers.base import Placement, ProviderError, StorageProvider, Usage, region_usage
from loopback.providers.changes import NO_DATA, usage_changes
from loopback.providers.pools import ProviderPools
from loopback.providers.service import ProviderService

log = logging.getLogger(__name__)

ROUND = "usage"


class UsageCheck(Protocol):
    """What follows a sync that wrote figures; the credentials domain plugs its quota enforcement in
    (runtime.py), which sets the measured buckets against their bytes and objects quotas."""

    def measured(self, bucket_ids: Sequence[str]) -> int:
        """Answers how many of the buckets changed quota state."""


class NoCheck:
    """Nothing follows: a service built without quotas (a test's)."""

    def measured(self, bucket_ids: Sequence[str]) -> int:
        return 0


class UsageSync:
    after: UsageCheck = NoCheck()

    def __init__(
        self,
        db: Database,
        providers: ProviderService,
        enqueue: Enqueue,
        pools: ProviderPools,
        leases: RoundLeases,
        limits: RoundLimits,
    ) -> None:
        self._db = db
        self._providers = providers
        self._enqueue = enqueue
        self._pools = pools
        self._leases = leases
        self._limits = limits

    def enqueue(self, bucket_id: str) -> None:
        """Ask for a refresh of one bucket's usage."""
        self._enqueue("usage.sync", bucket_id)

    def sync_usage(self, bucket_id: str) -> None:
        """Refresh object count, bytes and last sync time of one ready bucket, by listing it."""
        self._sync([bucket_id], every=True)

    def sync_all_usage(self) -> int:
        """The periodic round: a ``usage.sync_batch`` per page of each region's ready buckets, under
        the round's lease; answers how many buckets it enqueued (0 while a previous round runs)."""
        enqueued = 0
        with self._leases.running(ROUND, batches=True) as token:  # it ends with its last batch
            if token is None:
                log.info("the usage round of an earlier period is still running; this period's is skipped")
                return 0
            for region in rounds.regions(self._db):
                for page in rounds.pages(self._db, region, self._limits.batch):
                    self._leases.add_batches(ROUND, token)
                    self._enqueue("usage.sync_batch", token, [target.id for target in page])
                    enqueued += len(page)
        log.info("usage round enqueued %d bucket(s)", enqueued)
        return enqueued

    def sync_batch(self, token: str, bucket_ids: Sequence[str]) -> int:
        """One batch of the round whose lease is ``token``; answers how many buckets it refreshed."""
        if not self._leases.holds(ROUND, token):
            log.info("a usage batch of %d bucket(s) belongs to a round that ran out; left", len(bucket_ids))
            return 0
        try:
            with self._leases.keep(ROUND, token):
                return self._sync(bucket_ids)
        finally:
            self._leases.batch_done(ROUND, token)

    def _sync(self, bucket_ids: Sequence[str], every: bool = False) -> int:
        """Read and write the usage of the ready ones of ``bucket_ids``; ``every`` lists each bucket
        whatever its provider says changed (a tenant's refresh)."""
        with self._db.session() as session:
            targets = session.execute(repository.usage_targets(bucket_ids)).all()
            adapters = {row.provider_id: self._providers.adapter(session, row.provider_id) for row in targets}
        now = utcnow()
        calls, unchanged = self._ask(targets, adapters, now, every)
        read_now = _collect(calls, now)
        if read_now or unchanged:
            samples = [Sample(row["b_id"], row["b_at"], row["b_count"], row["b_bytes"]) for row in read_now]
            with self._db.session() as session:
                if read_now:
                    session.execute(repository.record_usage(), read_now)
                if unchanged:  # figures as they were: no sample, its latest one holds them already
                    confirmed = [
                        {"b_id": r.id, "b_at": now, "b_fingerprint": r.usage_fingerprint} for r in unchanged
                    ]
                    session.execute(repository.confirm_usage(), confirmed)
                record_samples(session, samples)  # the history billing integrates (buckets/samples.py)
            self.after.measured([row["b_id"] for row in read_now] + [row.id for row in unchanged])
        return len(read_now) + len(unchanged)

    def _ask(
        self, targets: Sequence[Any], adapters: Mapping[str, StorageProvider], now: datetime, every: bool
    ) -> tuple[list[Call], list[Any]]:
        """The provider calls for ``targets``, each in its provider's pool: one per provider region
        where the provider keeps statistics of its own (``region_usage``), one per bucket otherwise,
        but none for a bucket whose provider says its data did not change since its last listing
        (``providers.changes``), answered among the second list."""
        regions: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for target in targets:
            regions[(target.provider_id, target.code)].append(target)
        calls: list[Call] = []
        unchanged: list[Any] = []
        for (provider_id, region), rows in regions.items():
            adapter = adapters[provider_id]
            native = region_usage(adapter)
            if native is not None:
                names = [row.name for row in rows]
                answer = self._pools.submit(provider_id, native.read_usages, region, names)
                calls.append(Call(provider_id, rows, answer, {}, listed=False))
                continue
            # a refresh lists anyway, and leaves no fingerprint: the next round lists it once more
            seen = None if every else self._fingerprints(provider_id, adapter, region)
            for row in rows:
                fingerprint = None if seen is None else seen.get(row.name, NO_DATA)
                if not every and fingerprint == row.usage_fingerprint and not self._listing_due(row, now):
                    unchanged.append(row)
                    continue
                placement = Placement(row.organization_id, row.project_id, row.slot)
                answer = self._pools.submit(provider_id, _listed, adapter, row.name, region, placement)
                calls.append(Call(provider_id, [row], answer, {row.name: fingerprint}, listed=True))
        return calls, unchanged

    def _fingerprints(
        self, provider_id: str, adapter: StorageProvider, region: str
    ) -> Mapping[str, str] | None:
        """Which buckets of the region changed, by fingerprint, asked before any of them is listed
        (a write between the two is then seen by the next round); ``None`` where the provider
        cannot tell, or failed to: every bucket is listed."""
        changes = usage_changes(adapter)
        if changes is None:
            return None
        try:
            return self._pools.submit(provider_id, changes.usage_fingerprints, region).result()
        except ProviderError as error:
            log.warning(
                "which buckets changed at provider %s, region %s, is unknown, so each is listed: %s",
                provider_id,
                region,
                error.message,
            )
            return None

    def _listing_due(self, row: Any, now: datetime) -> bool:
        """Whether a bucket is listed however unchanged its data: never listed, or its listing older
        than ``full_listing`` times a share of 0.5 to 1 fixed by its id, so that buckets first
        listed together fall due over half a period, not in one round."""
        if row.usage_listed_at is None or row.object_count is None or row.usage_fingerprint is None:
            return True
        share = 0.5 + 0.5 * zlib.crc32(row.id.encode()) / 2**32
        return bool(now - row.usage_listed_at >= self._limits.full_listing * share)


class Call(NamedTuple):
    """Provider calls of a batch: whose, for which buckets, their answer, the fingerprint each
    bucket had before it was read (``None``: its provider cannot tell), and whether it is a listing."""

    provider_id: str
    rows: list[Any]
    answer: Future[Mapping[str, Usage]]
    fingerprints: Mapping[str, str | None]
    listed: bool


def _collect(calls: Sequence[Call], now: datetime) -> list[dict[str, Any]]:
    """The figures the calls answered, as rows for ``repository.record_usage``. A failed call leaves
    its buckets as they were; so does an answer without a figure for a bucket (a statistic not
    computed yet): its last figures and their time stand, never a zero that would bill it empty."""
    read_now: list[dict[str, Any]] = []
    failed: Counter[str] = Counter()
    unmeasured: Counter[str] = Counter()
    reasons: dict[str, str] = {}
    for call in calls:
        try:
            answers = call.answer.result()
        except ProviderError as error:
            failed[call.provider_id] += len(call.rows)
            reasons.setdefault(call.provider_id, error.message)
            continue
        for row in call.rows:
            usage = answers.get(row.name)
            if usage is None:
                unmeasured[call.provider_id] += 1
                continue
            read_now.append(
                {
                    "b_id": row.id,
                    "b_count": usage.object_count,
                    "b_bytes": usage.bytes,
                    "b_at": now,
                    "b_fingerprint": call.fingerprints.get(row.name),
                    "b_listed_at": now if call.listed else None,
                }
            )
    for provider_id, count in failed.items():
        reason = reasons[provider_id]
        log.warning("usage of %d bucket(s) at provider %s not refreshed: %s", count, provider_id, reason)
    for provider_id, count in unmeasured.items():
        log.info(
            "usage of %d bucket(s) at provider %s kept: its statistics have none yet", count, provider_id
        )
    return read_now


def _listed(adapter: StorageProvider, bucket: str, region: str, placement: Placement) -> Mapping[str, Usage]:
    """One bucket's usage by the family's ``read_usage`` (a listing), in the shape of ``read_usages``."""
    return {bucket: adapter.read_usage(bucket, region, placement)}
