"""Bucket services: record a tenant's intent, and reconcile the provider towards it.

The request path validates, records and enqueues; it never waits on a provider except to
refuse deleting a bucket that still holds objects. ``BucketService`` is the one class callers
use; the automation behind it is a module per job, to which it delegates:

- ``reconcile``: one bucket's reconcile with its lease, retries and failures, and the resync;
- ``drift``: the periodic round that marks buckets removed behind Loopback's back ``lost``;
- ``drift`` and ``usage`` share ``rounds`` (their limits and the pages of each region's buckets);
- ``usage``: object counts and bytes, a task per batch of buckets in the periodic round, or per refresh;
- ``listing``: the pages of a project's buckets (keyset and numbered) and the usage rollup;
- ``events`` and ``keys``: a bucket's history, and what a delete asks of the keys that reach it.

Automation re-reads the row on every run, acts only when the desired generation is ahead of the
observed one, and commits each step, so running a task twice, or after a newer request, does no harm.

The request path is one job (create, replace, adopt, list, get, delete and the usage refresh of a
tenant's buckets, with the validation they share) and stays whole here; lists are read in ``listing``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import RowMapping, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loopback.buckets import listing, repository
from loopback.buckets.drift import DriftCheck
from loopback.buckets.events import record_event
from loopback.buckets.keys import BucketKeys, KeyRelease, NoKeys
from loopback.buckets.models import Bucket, BucketEvent, BucketStatus, DeletionPolicy, DesiredState
from loopback.buckets.naming import bucket_name_problems
from loopback.buckets.reconcile import Reconciler, RetryPolicy
from loopback.buckets.rounds import RoundLimits
from loopback.buckets.usage import UsageCheck, UsageSync
from loopback.buckets.views import BucketFilters, BucketView, InstallLink, ProjectUsage
from loopback.kit.clock import utcnow
from loopback.kit.db import Database
from loopback.kit.enqueue import Enqueue
from loopback.kit.errors import BucketNotEmpty, Conflict, FieldProblem, Invalid, NotFound, ProviderUnavailable
from loopback.kit.ids import new_id
from loopback.kit.leases import RoundLeases
from loopback.providers.base import ProviderError
from loopback.providers.models import Provider, Region
from loopback.providers.pools import ProviderPools
from loopback.providers.service import ProviderService
from loopback.tenancy import audit
from loopback.tenancy.access import OrganizationScope, ProjectScope

__all__ = [
    "DELETE_CHECK_LIMIT",
    "REPLACEABLE",
    "BucketFilters",
    "BucketKeys",
    "BucketQuota",
    "BucketService",
    "BucketView",
    "InstallLink",
    "KeyRelease",
    "NoKeys",
    "NoQuota",
    "ProjectUsage",
    "record_event",
    "retry_policy",
    "taken_message",
]

log = logging.getLogger(__name__)

DELETE_CHECK_LIMIT = 1000
# How hard the reconcile retries a transient provider failure. Read at each failure
# (``retry_policy``), so lowering them, as tests do, takes effect at once.
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0


def retry_policy() -> RetryPolicy:
    return RetryPolicy(MAX_ATTEMPTS, BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS)


REPLACEABLE = frozenset({BucketStatus.FAILED, BucketStatus.LOST, BucketStatus.READY})


def _for(install: InstallLink | None) -> str:
    """What a bucket's first event says of its install link."""
    return f" for install {install.describe()}" if install and install.parts() else ""


def taken_message(name: str, provider: str) -> str:
    return f"a bucket named {name!r} already exists at provider {provider!r}; choose another name"


class BucketQuota(Protocol):
    """What a create asks before it records a bucket; the quotas domain plugs its own in (runtime.py)."""

    def hold(self, session: Session, scope: ProjectScope) -> None:
        """Room for one more bucket in the scope's project, held until the session's transaction
        ends (so concurrent creates cannot both take the last place), or ``Invalid`` naming the quota."""


class NoQuota:
    """No limit: a service built without quotas (a test's) creates as many buckets as it is asked."""

    def hold(self, session: Session, scope: ProjectScope) -> None:
        return None


class BucketService:
    """Buckets for the routes, the console, the CLI and the tasks: the request path is here, the
    automation in the modules each of its jobs has (``reconcile``, ``drift``, ``usage``).

    ``enqueue`` is the one queue every task of the service goes to; a test builds the service with
    a recording one to see what it asks for, or to keep a new bucket pending.
    """

    def __init__(
        self, db: Database, providers: ProviderService, enqueue: Enqueue, limits: RoundLimits | None = None
    ) -> None:
        self._providers = providers
        self._reconciler = Reconciler(db, providers, enqueue, retries=retry_policy)
        limits = limits or RoundLimits()
        pools, leases = ProviderPools(lambda: limits.concurrency), RoundLeases(db)
        self._drift = DriftCheck(db, providers, pools, leases, limits)
        self._usage = UsageSync(db, providers, enqueue, pools, leases, limits)

    quota: BucketQuota = NoQuota()

    @property
    def usage_check(self) -> UsageCheck:
        """What follows a usage sync: the quota enforcement plugs itself in (runtime.py)."""
        return self._usage.after

    @usage_check.setter
    def usage_check(self, check: UsageCheck) -> None:
        self._usage.after = check

    @property
    def keys(self) -> BucketKeys:
        """The keys a delete releases; the credentials domain plugs its own in (runtime.py)."""
        return self._reconciler.keys

    @keys.setter
    def keys(self, keys: BucketKeys) -> None:
        self._reconciler.keys = keys

    # --- the request path -------------------------------------------------------------------

    def check_new(
        self,
        session: Session,
        name: str,
        provider: str,
        region: str,
        deletion_policy: str = DeletionPolicy.DELETE,
    ) -> tuple[Provider, Region]:
        """Every problem with a bucket that would be created, at once; nothing is recorded.

        A name another current bucket holds at that provider is a problem of ``name`` too.
        """
        provider_row, region_row = self._placement(session, name, provider, region, deletion_policy)
        if self._name_taken(session, provider_row.id, name):
            raise Invalid.field("name", taken_message(name, provider))
        return provider_row, region_row

    def validate(
        self, session: Session, name: str, provider: str, region: str, deletion_policy: str
    ) -> Region:
        """The API's dry run of ``create``, answering as it would: 422 naming each field at fault,
        409 for a name another current bucket holds at that provider; nothing is recorded."""
        provider_row, region_row = self._placement(session, name, provider, region, deletion_policy)
        if self._name_taken(session, provider_row.id, name):
            raise Conflict(taken_message(name, provider))
        return region_row

    def _placement(
        self, session: Session, name: str, provider: str, region: str, deletion_policy: str
    ) -> tuple[Provider, Region]:
        """The provider and region of a new row, or 422 naming every field at fault: S3's naming
        rules, the family's own, the deletion policy, an unknown or disabled provider or region."""
        problems = [FieldProblem("name", detail) for detail in bucket_name_problems(name)]
        if deletion_policy not in {p.value for p in DeletionPolicy}:
            problems.append(FieldProblem("deletion_policy", "one of delete, retain"))
        try:
            provider_row, region_row = self._providers.resolve(session, provider, region)
        except Invalid as invalid:
            raise Invalid([*problems, *invalid.problems]) from None
        if not problems:
            adapter = self._providers.adapter(session, provider_row.id)
            problems += [FieldProblem("name", d) for d in adapter.name_problems(name, region_row.code)]
        if problems:
            raise Invalid(problems)
        return provider_row, region_row

    def create(
        self,
        session: Session,
        scope: ProjectScope,
        name: str,
        provider: str,
        region: str,
        deletion_policy: str = DeletionPolicy.DELETE,
        install: InstallLink | None = None,
    ) -> BucketView:
        """Validate, record the bucket as ``pending`` with its event, then enqueue its reconcile.

        ``install`` links it to the catalog-driven install it is made for (none: no link)."""
        provider_row, region_row = self._placement(session, name, provider, region, deletion_policy)
        if self._name_taken(session, provider_row.id, name):
            raise Conflict(taken_message(name, provider))
        self.quota.hold(session, scope)  # in the transaction that records the bucket
        bucket = self._new_bucket(session, scope, name, provider_row, region_row, deletion_policy, install)
        session.add(bucket)
        record_event(session, bucket, "created", f"requested in {provider}/{region}" + _for(install))
        audit.record_in(session, scope, "bucket.create", bucket.id, f"{name} in {provider}/{region}")
        self._commit_new(session, name, provider)
        self._reconciler.enqueue(bucket.id)
        return BucketView(bucket, provider_row.name, region_row.code)

    def replace(
        self,
        session: Session,
        scope: ProjectScope,
        bucket_id: str,
        name: str | None,
        provider: str | None,
        region: str | None,
    ) -> BucketView:
        """Re-provision a failed or lost bucket, or move one, as a new row that supersedes the old.

        Both rows stay readable by id and point at each other. A ready bucket stays where it is
        (and keeps its objects) until it is deleted; it can only be replaced by one elsewhere. The
        replacement keeps the old bucket's deletion policy and install link.
        """
        old = self.get(session, scope, bucket_id)
        bucket = old.bucket
        if bucket.superseded_by_id is not None:
            raise Conflict(
                f"bucket {bucket.id} was replaced by {bucket.superseded_by_id} already; replace that one"
            )
        if bucket.status not in REPLACEABLE:
            raise Conflict(
                f"a {bucket.status} bucket cannot be replaced; replace one that is failed, lost or ready"
            )
        name, provider, region = name or bucket.name, provider or old.provider, region or old.region
        if bucket.status == BucketStatus.READY and (name, provider) == (bucket.name, old.provider):
            raise Conflict(
                f"bucket {bucket.name!r} is ready at provider {provider!r}; a replacement needs another "
                "provider or another name (delete this one to reuse its name)"
            )
        provider_row, region_row = self._placement(session, name, provider, region, bucket.deletion_policy)
        install = InstallLink.of(functools.partial(getattr, bucket))
        new = self._new_bucket(
            session, scope, name, provider_row, region_row, bucket.deletion_policy, install
        )
        new.supersedes_id = bucket.id
        bucket.superseded_by_id = new.id
        session.flush()  # the old row gives its name up before the new one takes it
        session.add(new)
        record_event(session, bucket, "superseded", f"replaced by {new.id} in {provider}/{region}")
        record_event(session, new, "created", f"replaces {bucket.id}; requested in {provider}/{region}")
        audit.record_in(session, scope, "bucket.replace", new.id, f"{bucket.id} -> {new.id}")
        self._commit_new(session, name, provider)
        self._reconciler.enqueue(new.id)
        return BucketView(new, provider_row.name, region_row.code)

    def adopt(
        self,
        session: Session,
        scope: ProjectScope,
        name: str,
        provider: str,
        region: str,
        install: InstallLink | None = None,
    ) -> BucketView:
        """Bring a bucket that exists at the provider under this project, as ready, without creating it."""
        provider_row, region_row = self.check_new(session, name, provider, region)
        adapter = self._providers.adapter(session, provider_row.id)
        bucket = self._new_bucket(
            session, scope, name, provider_row, region_row, DeletionPolicy.DELETE, install
        )
        try:
            exists = adapter.bucket_exists(name, region_row.code, bucket.placement)
        except ProviderError as error:
            if error.transient:
                raise ProviderUnavailable(
                    f"could not ask the provider about {name!r}: {error.summary}"
                ) from None
            raise Invalid.field(
                "name", f"the operator's credentials at {provider!r} do not own {name!r}: {error.summary}"
            ) from None
        if not exists:
            raise Invalid.field("name", f"provider {provider!r} has no bucket named {name!r} in {region!r}")
        self.quota.hold(session, scope)  # after the provider's answer: no project held while it is asked
        bucket.status = BucketStatus.READY
        bucket.observed_generation = bucket.generation
        bucket.endpoint = region_row.endpoint
        bucket.adopted = True
        bucket.last_checked_at = utcnow()
        session.add(bucket)
        record_event(session, bucket, "adopted", f"existing bucket at {provider}/{region}" + _for(install))
        audit.record_in(session, scope, "bucket.adopt", bucket.id, f"{name} in {provider}/{region}")
        self._commit_new(session, name, provider)
        return BucketView(bucket, provider_row.name, region_row.code)

    def list(
        self,
        session: Session,
        scope: ProjectScope,
        limit: int,
        cursor: str | None,
        filters: BucketFilters | None = None,
    ) -> tuple[Sequence[BucketView], str | None]:
        """One page of the project's buckets, oldest first; the cursor is the last id of a page."""
        return listing.keyset_page(session, scope, limit, cursor, filters)

    def page(
        self, session: Session, scope: ProjectScope, page: int, per_page: int
    ) -> tuple[Sequence[BucketView], int]:
        """A numbered page of the current rows, oldest first, and their total: API v2's paging."""
        return listing.numbered_page(session, scope, page, per_page)

    def get(self, session: Session, scope: ProjectScope, bucket_id: str) -> BucketView:
        row = session.execute(*repository.one_in_scope(scope, bucket_id)).first()
        if row is None:
            raise NotFound(f"bucket {bucket_id} does not exist in project {scope.project_slug!r}")
        return BucketView(*row)

    def get_shown(self, session: Session, scope: ProjectScope, bucket_id: str) -> RowMapping:
        """``get`` as a Core row of what one bucket's answer shows (``repository.SHOWN``, with
        ``provider`` and ``region``): GET one bucket builds no ORM object."""
        row = session.connection().execute(*repository.one_shown_in_scope(scope, bucket_id)).first()
        if row is None:
            raise NotFound(f"bucket {bucket_id} does not exist in project {scope.project_slug!r}")
        return row._mapping

    @staticmethod
    def live_buckets(session: Session, organization_id: str, project_id: str | None) -> int:
        """Buckets not yet deleted in an organization (or one project): they block deleting it."""
        return int(session.scalar(repository.live_count(organization_id, project_id)) or 0)

    @staticmethod
    def follow_region_endpoint(session: Session, region_id: str, endpoint: str) -> None:
        """A region's endpoint moved: its buckets that have one show the new one (inside that change)."""
        session.execute(
            update(Bucket)
            .where(Bucket.region_id == region_id, Bucket.endpoint.is_not(None), Bucket.endpoint != endpoint)
            .values(endpoint=endpoint)
        )

    def get_many(
        self, session: Session, scope: ProjectScope, bucket_ids: Sequence[str]
    ) -> dict[str, BucketView]:
        """The buckets of this project among ``bucket_ids``, by id, in one query; others are absent."""
        if not bucket_ids:
            return {}
        rows = session.execute(repository.in_scope(scope).where(Bucket.id.in_(list(bucket_ids))))
        return {b.id: BucketView(b, p, r) for b, p, r in rows}

    def events(self, session: Session, scope: ProjectScope, bucket_id: str) -> Sequence[BucketEvent]:
        """Every transition of a bucket with its reason and time, oldest first; 404 outside the scope."""
        events = list(session.scalars(repository.events_of(scope, bucket_id)))
        if not events:  # every bucket is recorded with an event; none here means none in this project
            self.get(session, scope, bucket_id)
        return events

    def delete(
        self,
        session: Session,
        scope: ProjectScope,
        bucket_id: str,
        force: bool = False,
        policy: str | None = None,
    ) -> BucketView:
        """Mark the bucket for deletion; refused with 409 while it holds objects, unless forced.

        With the ``retain`` policy the record is released and the bucket stays at the provider
        (its credentials are revoked); ``force`` empties the bucket first.
        """
        if policy is not None and policy not in {p.value for p in DeletionPolicy}:
            raise Invalid.field("policy", "one of delete, retain")
        view = self.get(session, scope, bucket_id)
        bucket = view.bucket
        if bucket.desired_state == DesiredState.ABSENT:
            return view  # deleting twice asks for nothing new
        policy = policy or bucket.deletion_policy
        checks_objects = bucket.observed_generation > 0 and bucket.status != BucketStatus.LOST
        if checks_objects and policy == DeletionPolicy.DELETE and not force:
            adapter = self._providers.adapter(session, bucket.provider_id)
            try:
                held = adapter.object_count_hint(
                    bucket.name, view.region, DELETE_CHECK_LIMIT, bucket.placement
                )
            except ProviderError as error:
                raise ProviderUnavailable(
                    f"could not check that the bucket is empty: {error.summary}"
                ) from None
            if held:
                amount = f"{held}" if held < DELETE_CHECK_LIMIT else f"at least {held}"
                noun = "object" if held == 1 else "objects"
                raise BucketNotEmpty(
                    f"bucket {bucket.name!r} holds {amount} {noun}; delete them first, "
                    "or delete with force=true to empty it",
                    object_count=held,
                    at_least=held >= DELETE_CHECK_LIMIT,
                )
        bucket.desired_state = DesiredState.ABSENT
        bucket.deletion_policy = policy
        bucket.force_delete = force
        bucket.generation += 1
        bucket.status = BucketStatus.DELETING
        bucket.status_reason = None
        bucket.attempts = 0
        bucket.next_attempt_at = None
        how = "release (retain at provider)" if policy == DeletionPolicy.RETAIN else "delete"
        record_event(session, bucket, "delete-requested", how + (", forced" if force else ""))
        audit.record_in(session, scope, "bucket.delete", bucket.id, f"{bucket.name}: {how}")
        session.commit()
        self._reconciler.enqueue(bucket.id)
        return view

    def _new_bucket(
        self,
        session: Session,
        scope: ProjectScope,
        name: str,
        provider: Provider,
        region: Region,
        deletion_policy: str,
        install: InstallLink | None,
    ) -> Bucket:
        placement = self._providers.place(session, provider, scope.organization_id, scope.project_id)
        return Bucket(
            **(install or InstallLink()).columns(),
            slot=placement.slot,
            id=new_id("bkt"),
            organization_id=scope.organization_id,
            project_id=scope.project_id,
            name=name,
            provider_id=provider.id,
            region_id=region.id,
            status=BucketStatus.PENDING,
            desired_state=DesiredState.PRESENT,
            deletion_policy=deletion_policy,
            generation=1,
            observed_generation=0,
        )

    def _name_taken(self, session: Session, provider_id: str, name: str) -> bool:
        return session.scalar(repository.name_taken(provider_id, name)) is not None

    def _commit_new(self, session: Session, name: str, provider: str) -> None:
        try:
            session.commit()
        except IntegrityError:  # a concurrent create of the same name won the unique index
            session.rollback()
            raise Conflict(taken_message(name, provider)) from None

    def usage_by_project(self, session: Session, scope: OrganizationScope) -> tuple[ProjectUsage, ...]:
        """Live buckets, objects and bytes per project of the organization, as of each bucket's last sync."""
        return listing.usage_by_project(session, scope)

    def request_usage_refresh(self, session: Session, scope: ProjectScope, bucket_id: str) -> BucketView:
        view = self.get(session, scope, bucket_id)
        if view.bucket.status != BucketStatus.READY:
            raise Conflict(f"usage is read for ready buckets; this one is {view.bucket.status}")
        self._usage.enqueue(bucket_id)
        audit.record_in(session, scope, "bucket.usage_refresh", bucket_id)
        session.commit()
        return view

    # --- automation: the tasks and periodic rounds, each in its own module -----------------------

    def reconcile(self, bucket_id: str) -> None:
        """Drive the provider towards the bucket's desired state; idempotent and level-triggered.

        A run first claims the bucket for ``reconcile.CLAIM_SECONDS``: duplicates (the resync
        re-enqueues freely) find it claimed and return, and a worker that dies leaves a claim that expires.
        """
        self._reconciler.reconcile(bucket_id)

    def resync(self) -> int:
        """Enqueue every bucket whose desired state is ahead of what was observed and is due now."""
        return self._reconciler.resync()

    def check_drift(self) -> int:
        """Mark ready buckets that vanished at the provider ``lost``; never recreate one silently."""
        return self._drift.check_drift()

    def sync_usage(self, bucket_id: str) -> None:
        """Refresh object count, bytes and last sync time of one ready bucket."""
        self._usage.sync_usage(bucket_id)

    def sync_all_usage(self) -> int:
        """The usage round: a task per batch of ready buckets, unless the last round still runs;
        answers how many buckets it enqueued."""
        return self._usage.sync_all_usage()

    def sync_usage_batch(self, token: str, bucket_ids: Sequence[str]) -> int:
        """One batch of the usage round whose lease is ``token``; answers how many it refreshed."""
        return self._usage.sync_batch(token, bucket_ids)
