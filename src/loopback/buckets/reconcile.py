"""The reconcile of one bucket, and the resync that finds the buckets whose reconcile went missing.

This is the one piece of the buckets domain that holds a lease and talks to a provider on a
tenant's behalf, so it stands apart from the request path. A run claims the row for a short lease
(``CLAIM_SECONDS``) that a heartbeat renews while the provider works, so duplicates find the claim
and return while a dead worker's claim runs out within seconds. Each claim and each renewal also
schedules a re-check of the bucket just after the lease would end (``RECHECK_SECONDS``): the re-check
finds a claim left behind by a killed worker expired and takes the bucket over, so it converges
within about ``RECHECK_SECONDS`` without waiting for the periodic resync. The provider is called
with no transaction open, and the outcome, or the failure with its retry after a capped, jittered
backoff, is recorded in a unit of work of its own. Every step re-reads the row and acts only when
the desired generation is ahead of the observed one, so running it twice does no harm; a task that
was lost (the queue was down, the worker died before it claimed) is found again by ``resync``.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, case, select, update
from sqlalchemy.orm import Session

from loopback.buckets import repository
from loopback.buckets.events import add_event, record_event
from loopback.buckets.keys import BucketKeys, KeyRelease, NoKeys
from loopback.buckets.models import Bucket, BucketStatus, DeletionPolicy, DesiredState
from loopback.kit.clock import utcnow
from loopback.kit.db import Database
from loopback.kit.enqueue import Enqueue
from loopback.providers.base import Placement, ProviderError, StorageProvider
from loopback.providers.models import Region
from loopback.providers.service import ProviderService

log = logging.getLogger(__name__)

# A claim is a lease: short, so a killed worker's claim runs out soon, and renewed every
# RENEW_SECONDS while the provider works, so a slow call (boto3: up to two attempts of 3 s to
# connect and 10 s to read) never loses it. Read at each use, so tests may shorten them.
CLAIM_SECONDS = 15.0
RENEW_SECONDS = 5.0
# When the re-check scheduled at a claim or renewal comes: just after that lease would run out.
RECHECK_SECONDS = CLAIM_SECONDS + 1.0
RESYNC_PAGE = 1000  # buckets the resync reads in one statement


@dataclass(frozen=True)
class RetryPolicy:
    """How often a transient provider failure is retried before the bucket is ``failed``, how far apart."""

    max_attempts: int
    backoff_base_seconds: float
    backoff_cap_seconds: float

    def backoff_seconds(self, attempt: int) -> float:
        """Capped exponential backoff, jittered over its upper half, so retries of many buckets
        do not arrive together."""
        ceiling = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2 ** max(attempt - 1, 0))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class Claim:
    """One claimed run of one generation: what it read of the row, so that the provider is
    called after that transaction has ended."""

    bucket_id: str
    generation: int
    desired: DesiredState
    adapter: StorageProvider
    name: str
    region: str
    endpoint: str
    placement: Placement
    retain: bool
    force: bool
    releases: list[KeyRelease]
    lease: datetime  # the claimed_until this run wrote: only this run renews or releases it


# The reconcile's statements on its own path, built once: building one costs more than running it.
_buckets, _regions = cast(Table, Bucket.__table__), cast(Table, Region.__table__)
_CLAIMABLE = (
    _buckets.c.id == bindparam("bucket_id"),
    _buckets.c.status != BucketStatus.DELETED.value,
    _buckets.c.generation != _buckets.c.observed_generation,
    # a retry scheduled for later: that retry or the resync comes back
    _buckets.c.next_attempt_at.is_(None) | (_buckets.c.next_attempt_at <= bindparam("retry_by")),
    _buckets.c.claimed_until.is_(None) | (_buckets.c.claimed_until < bindparam("now")),
)
_LEASE = bindparam("lease", type_=_buckets.c.claimed_until.type)
_CLAIMED = (
    _buckets.c.generation,
    _buckets.c.desired_state,
    _buckets.c.name,
    _buckets.c.provider_id,
    _buckets.c.organization_id,
    _buckets.c.project_id,
    _buckets.c.slot,
    _buckets.c.deletion_policy,
    _buckets.c.force_delete,
    select(_regions.c.code)
    .where(_regions.c.id == _buckets.c.region_id)
    .scalar_subquery()
    .label("region_code"),
    select(_regions.c.endpoint)
    .where(_regions.c.id == _buckets.c.region_id)
    .scalar_subquery()
    .label("region_endpoint"),
)
# A create's first run: the claim moves the bucket to ``provisioning`` in the same statement.
CLAIM_STARTING = (
    update(_buckets)
    .where(
        *_CLAIMABLE,
        _buckets.c.desired_state == DesiredState.PRESENT.value,
        _buckets.c.status != BucketStatus.PROVISIONING.value,
    )
    .values(claimed_until=_LEASE, status=BucketStatus.PROVISIONING.value, status_reason=None)
    .returning(*_CLAIMED)
)
# Any other run: a retry, a delete, a take-over of a dead worker's claim.
CLAIM = update(_buckets).where(*_CLAIMABLE).values(claimed_until=_LEASE).returning(*_CLAIMED)
READY = (
    update(_buckets)
    .where(_buckets.c.id == bindparam("bucket_id"), _buckets.c.generation == bindparam("claimed"))
    .values(
        observed_generation=bindparam("claimed"),
        attempts=0,
        next_attempt_at=None,
        status_reason=None,
        status=BucketStatus.READY.value,
        endpoint=bindparam("endpoint", type_=_buckets.c.endpoint.type),
        # not a claim another run took over since: that run releases its own
        claimed_until=case((_buckets.c.claimed_until == _LEASE, None), else_=_buckets.c.claimed_until),
    )
)


class Reconciler:
    """Runs ``bucket.reconcile`` and ``bucket.resync``; ``BucketService`` hands it its database,
    providers and queue, and reads the retry policy it is given at each failure."""

    def __init__(
        self,
        db: Database,
        providers: ProviderService,
        enqueue: Enqueue,
        retries: Callable[[], RetryPolicy],
    ) -> None:
        self._db = db
        self._providers = providers
        self._enqueue = enqueue
        self._retries = retries
        self.keys: BucketKeys = NoKeys()
        self._renewals = Renewals(self.renew)

    def enqueue(self, bucket_id: str, delay: float | None = None) -> None:
        """Ask for a reconcile of ``bucket_id`` after its change was committed; never fails the caller."""
        try:
            self._enqueue("bucket.reconcile", bucket_id, delay=delay)
        except Exception:
            # The row is recorded; the periodic resync finds it even when the queue is down now.
            log.exception("could not enqueue bucket.reconcile for %s; the resync will pick it up", bucket_id)

    def reconcile(self, bucket_id: str) -> None:
        """Drive the provider towards the bucket's desired state; idempotent and level-triggered."""
        claim = self._claim(bucket_id)
        if claim is None:
            return
        log.info(
            "bucket %s (%s): claimed generation %d, to be %s",
            bucket_id,
            claim.name,
            claim.generation,
            claim.desired,
        )
        with self._renewals.hold(claim) as held:
            failure = self._attempt(claim)
        claim = held.claim  # with the lease it renewed last
        if failure is not None:
            self._record_failure(claim, failure)
            return
        self._record_done(claim)

    def _recheck_after_lease(self, bucket_id: str) -> None:
        """Come back just after the lease would end: a live run has renewed it by then (and this
        re-check returns at once), a dead one has not, and the re-check takes the bucket over."""
        self.enqueue(bucket_id, delay=RECHECK_SECONDS)

    def renew(self, claim: Claim) -> Claim | None:
        """Extend the claim's lease; ``None`` when it is no longer this run's (it ran out and
        another run took it, or it was released)."""
        lease = utcnow() + timedelta(seconds=CLAIM_SECONDS)
        with self._db.session() as session:
            renewed = session.execute(
                update(Bucket)
                .where(Bucket.id == claim.bucket_id, Bucket.claimed_until == claim.lease)
                .values(claimed_until=lease)
                .execution_options(synchronize_session=False)
            )
            if getattr(renewed, "rowcount", 0) != 1:
                return None
            self._recheck_after_lease(claim.bucket_id)  # before it commits, as at the claim
        return replace(claim, lease=lease)

    def _come_back_if_running_out(self, bucket_id: str, held_until: datetime | None, now: datetime) -> None:
        """A live run's lease always has more than ``CLAIM_SECONDS - RENEW_SECONDS`` left; one that
        is running out was left by a run that stopped renewing (its worker died). Its own re-check
        normally takes it over; come back once it has run out too, in case that re-check came
        early (a worker whose clock runs ahead of the one that claimed)."""
        if held_until is None:
            return
        left = (held_until - now).total_seconds()
        if 0 < left < CLAIM_SECONDS - 2 * RENEW_SECONDS:
            self.enqueue(bucket_id, delay=left + 1.0)

    def resync(self) -> int:
        """Enqueue every bucket whose desired state is ahead of what was observed and is due now,
        a page of ``RESYNC_PAGE`` at a time from the index of such rows."""
        now, after, due = utcnow(), "", 0
        while True:
            with self._db.session() as session:
                page = session.scalars(repository.due_for_reconcile(now, after, RESYNC_PAGE)).all()
            for bucket_id in page:
                self.enqueue(bucket_id)
            due += len(page)
            if len(page) < RESYNC_PAGE:
                break
            after = page[-1]
        if due:
            log.info("resync enqueued %d bucket(s)", due)
        return due

    def _claim(self, bucket_id: str) -> Claim | None:
        """Claim the bucket's current generation for ``CLAIM_SECONDS``, or ``None`` when there is
        nothing to do now: nothing is ahead, a retry is scheduled later, or another run holds it
        (and renews it, and schedules its own re-check).

        The claim is one conditional UPDATE that answers what the run needs (RETURNING): the
        database tests every condition on the row it locks, so two runs never both claim. A
        create's first run moves the bucket to ``provisioning`` in that same statement; any other
        run (a retry, a delete, a take-over) finds no row to move and claims with the second one.
        """
        now = utcnow()
        lease = now + timedelta(seconds=CLAIM_SECONDS)
        claim = {"bucket_id": bucket_id, "now": now, "retry_by": now + timedelta(seconds=1), "lease": lease}
        with self._db.session() as session:
            claimed = session.execute(CLAIM_STARTING, claim).one_or_none()
            started = claimed is not None
            if claimed is None:
                claimed = session.execute(CLAIM, claim).one_or_none()
            if claimed is None:
                bucket = session.get(Bucket, bucket_id)
                if (
                    bucket is not None
                    and bucket.status != BucketStatus.DELETED
                    and bucket.generation != bucket.observed_generation
                    and (
                        bucket.next_attempt_at is None or bucket.next_attempt_at <= now + timedelta(seconds=1)
                    )
                ):
                    self._come_back_if_running_out(bucket_id, bucket.claimed_until, now)
                return None  # another run holds it, and re-enqueues if there is more to do
            # Scheduled before the claim commits, so no claim stands without its re-check (one
            # scheduled for a claim that then rolled back finds nothing to take over).
            self._recheck_after_lease(bucket_id)
            desired = DesiredState(claimed.desired_state)
            adapter = self._providers.adapter(session, claimed.provider_id)
            if started:
                add_event(session, bucket_id, "provisioning", BucketStatus.PROVISIONING)
            releases = self.keys.releases(session, bucket_id) if desired == DesiredState.ABSENT else []
            return Claim(
                bucket_id=bucket_id,
                generation=claimed.generation,
                desired=desired,
                adapter=adapter,
                name=claimed.name,
                region=claimed.region_code,
                endpoint=claimed.region_endpoint,
                placement=Placement(claimed.organization_id, claimed.project_id, claimed.slot),
                retain=claimed.deletion_policy == DeletionPolicy.RETAIN,
                force=claimed.force_delete,
                releases=releases,
                lease=lease,
            )

    @classmethod
    def _attempt(cls, claim: Claim) -> ProviderError | None:
        """Run the provider calls with no transaction open; the provider's refusal, if any."""
        try:
            cls._act(claim)
        except ProviderError as error:
            return error
        return None

    @staticmethod
    def _act(claim: Claim) -> None:
        """The provider calls of one run: create the bucket, or release its keys and delete it."""
        adapter, region, placement = claim.adapter, claim.region, claim.placement
        if claim.desired == DesiredState.PRESENT:
            adapter.create_bucket(claim.name, region, placement)
            return
        for release in claim.releases:
            if release.keeps:  # a key over other buckets too keeps those, and loses this one
                adapter.update_credential(region, release.provider_user, release.keeps, placement)
            else:
                adapter.revoke_credential(region, release.provider_user, placement)
        if claim.retain:
            return
        if claim.force:
            removed = adapter.empty_bucket(claim.name, region, placement)
            log.info(
                "bucket %s (%s): emptied %d objects before deleting", claim.bucket_id, claim.name, removed
            )
        adapter.delete_bucket(claim.name, region, placement)

    def _record_done(self, claim: Claim) -> None:
        if claim.desired == DesiredState.PRESENT and self._record_ready(claim):
            return
        with self._release(claim) as outcome:
            if outcome is None:
                return
            session, bucket = outcome
            bucket.observed_generation = claim.generation
            bucket.attempts = 0
            bucket.next_attempt_at = None
            bucket.status_reason = None
            if claim.desired == DesiredState.PRESENT:
                bucket.status = BucketStatus.READY
                bucket.endpoint = claim.endpoint
                record_event(session, bucket, "ready")
                log.info("bucket %s (%s) is ready at %s", claim.bucket_id, claim.name, claim.endpoint)
            else:
                self.keys.released(session, bucket.id, claim.releases)
                bucket.status = BucketStatus.DELETED
                bucket.deleted_at = utcnow()
                record_event(session, bucket, "released" if claim.retain else "deleted")
                log.info("bucket %s (%s) is deleted", claim.bucket_id, claim.name)

    def _record_ready(self, claim: Claim) -> bool:
        """Record a created bucket as ``ready`` in one UPDATE guarded by the claimed generation, and
        its event; the claim is released when it is still this run's. False when a newer request
        arrived meanwhile (or the row is gone): then ``_release`` decides, as for any outcome."""
        with self._db.session() as session:
            done = session.execute(
                READY,
                {
                    "bucket_id": claim.bucket_id,
                    "claimed": claim.generation,
                    "endpoint": claim.endpoint,
                    "lease": claim.lease,
                },
            )
            if getattr(done, "rowcount", 0) != 1:
                return False
            add_event(session, claim.bucket_id, "ready", BucketStatus.READY)
        log.info("bucket %s (%s) is ready at %s", claim.bucket_id, claim.name, claim.endpoint)
        return True

    def _record_failure(self, claim: Claim, error: ProviderError) -> None:
        """Record a failed run for the tenant and tell the operator.

        The row's reason and its event are the tenant's (both are read through tenant routes and the
        console): they carry ``error.summary``, never the provider's raw text, which names the
        operator's key and codes like ``InvalidAccessKeyId`` that read as if the tenant's key were
        wrong. The raw text goes to the operator's log, with the bucket and the provider's code.
        """
        retry_in: float | None = None
        with self._release(claim) as outcome:
            if outcome is None:
                return
            session, bucket = outcome
            bucket.attempts += 1
            action = "create" if bucket.desired_state == DesiredState.PRESENT else "delete"
            retries = self._retries()
            if error.transient and bucket.attempts < retries.max_attempts:
                retry_in = retries.backoff_seconds(bucket.attempts)
                bucket.next_attempt_at = utcnow() + timedelta(seconds=retry_in)
                bucket.status_reason = (
                    f"attempt {bucket.attempts} failed, retrying in {retry_in:.0f} s: {error.summary}"
                )
                record_event(session, bucket, "retry", bucket.status_reason)
            else:
                gave_up = f" (gave up after {bucket.attempts} attempts)" if error.transient else ""
                bucket.status = BucketStatus.FAILED
                bucket.status_reason = f"{action} failed{gave_up}: {error.summary}"
                bucket.observed_generation = claim.generation
                bucket.next_attempt_at = None
                record_event(session, bucket, "failed", bucket.status_reason)
        log.warning(
            "bucket %s (%s): %s failed at provider %s: %s [code %s]; the tenant reads: %s",
            claim.bucket_id,
            claim.name,
            "create" if claim.desired == DesiredState.PRESENT else "delete",
            claim.adapter.name,
            error.message,
            error.code,
            error.summary,
        )
        if retry_in is not None:
            self.enqueue(claim.bucket_id, delay=retry_in)

    @contextmanager
    def _release(self, claim: Claim) -> Iterator[tuple[Session, Bucket] | None]:
        """End a claimed run: yields the bucket to record the outcome on, or ``None`` when a newer
        request arrived meanwhile; then that request is reconciled next, as its own task found the claim."""
        newer = False
        with self._db.session() as session:
            bucket = session.get(Bucket, claim.bucket_id)
            if bucket is not None:
                if bucket.claimed_until == claim.lease:  # not a claim another run took over since
                    bucket.claimed_until = None
                newer = bucket.generation != claim.generation
            yield None if bucket is None or newer else (session, bucket)
        if newer:
            self.enqueue(claim.bucket_id)


@dataclass(eq=False)
class Held:
    """A claim whose provider calls run: ``claim`` holds the lease renewed last, which the outcome
    is recorded against. Its lock is held while it is renewed, so a run that ends waits for a
    renewal under way and none begins after it."""

    claim: Claim
    due: float  # time.monotonic() of its next renewal
    lock: threading.Lock = field(default_factory=threading.Lock)
    ended: bool = False


class Renewals:
    """Renews the lease of every claim whose provider calls run, every ``RENEW_SECONDS``, from one
    thread per reconciler rather than one per run: a run only registers its claim, and never waits
    for a thread to start (under a busy interpreter that wait alone took milliseconds). The thread
    starts with the first claim and ends after ``IDLE_SECONDS`` with none held."""

    IDLE_SECONDS = 30.0

    def __init__(self, renew: Callable[[Claim], Claim | None]) -> None:
        self._renew = renew
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._held: set[Held] = set()
        self._thread: threading.Thread | None = None
        self._wakes_at = math.inf

    @contextmanager
    def hold(self, claim: Claim) -> Iterator[Held]:
        held = Held(claim, time.monotonic() + RENEW_SECONDS)
        with self._lock:
            self._held.add(held)
            start = self._thread is None
            if start:
                self._thread = threading.Thread(target=self._run, name="lease-renewals", daemon=True)
            elif held.due < self._wakes_at:
                self._changed.notify()
        if start:
            assert self._thread is not None
            self._thread.start()
        try:
            yield held
        finally:
            with held.lock:
                held.ended = True
            with self._lock:
                self._held.discard(held)

    def _run(self) -> None:
        idle_since = time.monotonic()
        while True:
            with self._lock:
                now = time.monotonic()
                due = [held for held in self._held if held.due <= now]
                if not due:
                    if self._held:
                        idle_since = now
                    elif now - idle_since >= self.IDLE_SECONDS:
                        self._thread = None
                        return
                    # a claim lost to another run is due never: look again at the idle limit
                    self._wakes_at = min([held.due for held in self._held] + [now + self.IDLE_SECONDS])
                    self._changed.wait(max(self._wakes_at - now, 0.0))
                    self._wakes_at = math.inf
                    continue
            for held in due:
                self._renew_one(held)

    def _renew_one(self, held: Held) -> None:
        with held.lock:
            if held.ended:
                return
            try:
                renewed = self._renew(held.claim)
            except Exception:  # the lease may still hold: try again at the next beat
                log.exception("bucket %s: could not renew the lease", held.claim.bucket_id)
                held.due = time.monotonic() + RENEW_SECONDS
                return
            if renewed is None:
                log.warning(
                    "bucket %s: the claim ran out and another run took it; both act, idempotently",
                    held.claim.bucket_id,
                )
                held.due = math.inf
                return
            held.claim = renewed
            held.due = time.monotonic() + RENEW_SECONDS
