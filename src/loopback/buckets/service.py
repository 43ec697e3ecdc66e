"""Bucket services: record a tenant's intent, and reconcile the provider towards it.

The request path validates, records and enqueues; it never waits on a provider except to
refuse deleting a bucket that still holds objects. Automation re-reads the row on every run,
acts only when the desired generation is ahead of the observed one, and commits each step,
so running a task twice, or after a newer request, does no harm.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loopback.buckets import repository
from loopback.buckets.models import Bucket, BucketEvent, BucketStatus, DeletionPolicy, DesiredState
from loopback.buckets.naming import bucket_name_problems
from loopback.kit.clock import utcnow
from loopback.kit.db import Database
from loopback.kit.enqueue import Enqueue
from loopback.kit.errors import BucketNotEmpty, Conflict, FieldProblem, Invalid, NotFound, ProviderUnavailable
from loopback.kit.ids import new_id
from loopback.providers.base import Grant, ProviderError
from loopback.providers.models import Provider, Region
from loopback.providers.service import ProviderService
from loopback.tenancy import audit
from loopback.tenancy.access import OrganizationScope, ProjectScope

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
DELETE_CHECK_LIMIT = 1000
# Longer than one provider call can take (boto3: 5 s to connect, 30 s to read, two attempts).
CLAIM_SECONDS = 120


@dataclass(frozen=True)
class BucketView:
    """A bucket with the names of its provider and region, as every API version presents it."""

    bucket: Bucket
    provider: str
    region: str


@dataclass(frozen=True)
class ProjectUsage:
    project: str
    buckets: int
    object_count: int
    bytes: int
    oldest_sync: datetime | None


REPLACEABLE = frozenset({BucketStatus.FAILED, BucketStatus.LOST, BucketStatus.READY})


def taken_message(name: str, provider: str) -> str:
    return f"a bucket named {name!r} already exists at provider {provider!r}; choose another name"


@dataclass(frozen=True)
class BucketFilters:
    """What a list narrows to; ``superseded`` None shows every row, False only current ones."""

    status: str | None = None
    provider: str | None = None
    region: str | None = None
    superseded: bool | None = None

    def apply(self, statement: Select[Bucket, str, str]) -> Select[Bucket, str, str]:
        if self.status:
            statement = statement.where(Bucket.status == self.status)
        if self.provider:
            statement = statement.where(Provider.name == self.provider)
        if self.region:
            statement = statement.where(Region.code == self.region)
        if self.superseded is True:
            statement = statement.where(Bucket.superseded_by_id.is_not(None))
        elif self.superseded is False:
            statement = statement.where(Bucket.superseded_by_id.is_(None))
        return statement


def backoff_seconds(attempt: int) -> float:
    """Capped exponential backoff with full jitter, so retries of many buckets do not arrive together."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempt - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


def record_event(session: Session, bucket: Bucket, kind: str, reason: str | None = None) -> None:
    session.add(
        BucketEvent(id=new_id("bev"), bucket_id=bucket.id, kind=kind, status=bucket.status, reason=reason)
    )


@dataclass(frozen=True)
class KeyRelease:
    """What deleting a bucket does to one key with a grant on it: it keeps ``keeps`` at the
    provider, or, with nothing left to keep, is revoked there."""

    credential_id: str
    provider_user: str
    keeps: list[Grant]


class BucketKeys(Protocol):
    """The keys that reach a bucket, as the credentials domain (above this one) answers for them."""

    def releases(self, session: Session, bucket_id: str) -> list[KeyRelease]: ...

    def released(self, session: Session, bucket_id: str, releases: Sequence[KeyRelease]) -> None: ...


class NoKeys:
    def releases(self, session: Session, bucket_id: str) -> list[KeyRelease]:
        return []

    def released(self, session: Session, bucket_id: str, releases: Sequence[KeyRelease]) -> None:
        return None


class BucketService:
    def __init__(self, db: Database, providers: ProviderService, enqueue: Enqueue) -> None:
        self._db = db
        self._providers = providers
        self._enqueue = enqueue
        self.keys: BucketKeys = NoKeys()  # the credentials domain plugs its keys in (runtime.py)

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
    ) -> BucketView:
        """Validate, record the bucket as ``pending`` with its event, then enqueue its reconcile."""
        provider_row, region_row = self._placement(session, name, provider, region, deletion_policy)
        if self._name_taken(session, provider_row.id, name):
            raise Conflict(taken_message(name, provider))
        bucket = self._new_bucket(session, scope, name, provider_row, region_row, deletion_policy)
        session.add(bucket)
        record_event(session, bucket, "created", f"requested in {provider}/{region}")
        audit.record_in(session, scope, "bucket.create", bucket.id, f"{name} in {provider}/{region}")
        self._commit_new(session, name, provider)
        self._enqueue_reconcile(bucket.id)
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
        (and keeps its objects) until it is deleted; it can only be replaced by one elsewhere.
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
        new = self._new_bucket(session, scope, name, provider_row, region_row, bucket.deletion_policy)
        new.supersedes_id = bucket.id
        bucket.superseded_by_id = new.id
        session.flush()  # the old row gives its name up before the new one takes it
        session.add(new)
        record_event(session, bucket, "superseded", f"replaced by {new.id} in {provider}/{region}")
        record_event(session, new, "created", f"replaces {bucket.id}; requested in {provider}/{region}")
        audit.record_in(session, scope, "bucket.replace", new.id, f"{bucket.id} -> {new.id}")
        self._commit_new(session, name, provider)
        self._enqueue_reconcile(new.id)
        return BucketView(new, provider_row.name, region_row.code)

    def adopt(
        self, session: Session, scope: ProjectScope, name: str, provider: str, region: str
    ) -> BucketView:
        """Bring a bucket that exists at the provider under this project, as ready, without creating it."""
        provider_row, region_row = self.check_new(session, name, provider, region)
        adapter = self._providers.adapter(session, provider_row.id)
        bucket = self._new_bucket(session, scope, name, provider_row, region_row, DeletionPolicy.DELETE)
        try:
            exists = adapter.bucket_exists(name, region_row.code, bucket.placement)
        except ProviderError as error:
            if error.transient:
                raise ProviderUnavailable(
                    f"could not ask the provider about {name!r}: {error.message}"
                ) from None
            raise Invalid.field(
                "name", f"the operator's credentials at {provider!r} do not own {name!r}: {error.message}"
            ) from None
        if not exists:
            raise Invalid.field("name", f"provider {provider!r} has no bucket named {name!r} in {region!r}")
        bucket.status = BucketStatus.READY
        bucket.observed_generation = bucket.generation
        bucket.endpoint = region_row.endpoint
        bucket.adopted = True
        bucket.last_checked_at = utcnow()
        session.add(bucket)
        record_event(session, bucket, "adopted", f"existing bucket at {provider}/{region}")
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
        statement = repository.in_scope(scope).order_by(Bucket.id).limit(limit + 1)
        if cursor:
            statement = statement.where(Bucket.id > cursor)
        if filters is not None:
            statement = filters.apply(statement)
        rows = [BucketView(b, p, r) for b, p, r in session.execute(statement)]
        next_cursor = rows[limit - 1].bucket.id if len(rows) > limit else None
        return rows[:limit], next_cursor

    def page(
        self, session: Session, scope: ProjectScope, page: int, per_page: int, filters: BucketFilters
    ) -> tuple[Sequence[BucketView], int]:
        """A numbered page, oldest first, and the total: the paging API v2 keeps."""
        statement = filters.apply(repository.in_scope(scope))
        total = session.scalar(repository.count_of(statement)) or 0
        rows = session.execute(statement.order_by(Bucket.id).offset((page - 1) * per_page).limit(per_page))
        return [BucketView(b, p, r) for b, p, r in rows], int(total)

    def get(self, session: Session, scope: ProjectScope, bucket_id: str) -> BucketView:
        row = session.execute(repository.in_scope(scope).where(Bucket.id == bucket_id)).first()
        if row is None:
            raise NotFound(f"bucket {bucket_id} does not exist in project {scope.project_slug!r}")
        return BucketView(*row)

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
                    f"could not check that the bucket is empty: {error.message}"
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
        self._enqueue_reconcile(bucket.id)
        return view

    def _new_bucket(
        self,
        session: Session,
        scope: ProjectScope,
        name: str,
        provider: Provider,
        region: Region,
        deletion_policy: str,
    ) -> Bucket:
        placement = self._providers.place(session, provider, scope.organization_id, scope.project_id)
        return Bucket(
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
        statement = repository.usage_per_project(scope)
        return tuple(
            ProjectUsage(slug, buckets, int(objects or 0), int(size or 0), oldest)
            for slug, buckets, objects, size, oldest in session.execute(statement)
        )

    def request_usage_refresh(self, session: Session, scope: ProjectScope, bucket_id: str) -> BucketView:
        view = self.get(session, scope, bucket_id)
        if view.bucket.status != BucketStatus.READY:
            raise Conflict(f"usage is read for ready buckets; this one is {view.bucket.status}")
        self._enqueue("usage.sync", bucket_id)
        audit.record_in(session, scope, "bucket.usage_refresh", bucket_id)
        session.commit()
        return view

    def _enqueue_reconcile(self, bucket_id: str, delay: float | None = None) -> None:
        try:
            self._enqueue("bucket.reconcile", bucket_id, delay=delay)
        except Exception:
            # The row is recorded; the periodic resync finds it even when the queue is down now.
            log.exception("could not enqueue bucket.reconcile for %s; the resync will pick it up", bucket_id)

    # --- automation ------------------------------------------------------------------------

    def reconcile(self, bucket_id: str) -> None:
        """Drive the provider towards the bucket's desired state; idempotent and level-triggered.

        A run first claims the bucket for ``CLAIM_SECONDS``: duplicates (the resync re-enqueues
        freely) find it claimed and return, and a worker that dies leaves a claim that expires.
        """
        with self._db.session() as session:
            bucket = session.get(Bucket, bucket_id)
            if bucket is None or bucket.status == BucketStatus.DELETED:
                return
            if bucket.generation == bucket.observed_generation:
                return
            now = utcnow()
            if bucket.next_attempt_at is not None and bucket.next_attempt_at > now + timedelta(seconds=1):
                return  # a retry is scheduled for later; that retry or the resync comes back
            generation = bucket.generation
            claim = session.execute(
                update(Bucket)
                .where(
                    Bucket.id == bucket_id,
                    Bucket.generation == generation,
                    Bucket.observed_generation != generation,  # a run that finished meanwhile did it
                    (Bucket.claimed_until.is_(None)) | (Bucket.claimed_until < now),
                )
                .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
                .execution_options(synchronize_session=False)
            )
            if getattr(claim, "rowcount", 0) != 1:
                return  # another run holds it, and re-enqueues if there is more to do
            desired = DesiredState(bucket.desired_state)
            region = session.get(Region, bucket.region_id)
            assert region is not None
            adapter = self._providers.adapter(session, bucket.provider_id)
            if desired == DesiredState.PRESENT and bucket.status != BucketStatus.PROVISIONING:
                bucket.status = BucketStatus.PROVISIONING
                bucket.status_reason = None
                record_event(session, bucket, "provisioning")
            releases = self.keys.releases(session, bucket.id) if desired == DesiredState.ABSENT else []
            name, region_code, endpoint = bucket.name, region.code, region.endpoint
            placement = bucket.placement
            retain, force = bucket.deletion_policy == DeletionPolicy.RETAIN, bucket.force_delete

        try:  # no transaction is held open while the provider works
            if desired == DesiredState.PRESENT:
                adapter.create_bucket(name, region_code, placement)
            else:
                for release in releases:
                    if release.keeps:  # a key over other buckets too keeps those, and loses this one
                        adapter.update_credential(
                            region_code, release.provider_user, release.keeps, placement
                        )
                    else:
                        adapter.revoke_credential(region_code, release.provider_user, placement)
                if not retain:
                    if force:
                        removed = adapter.empty_bucket(name, region_code, placement)
                        log.info(
                            "bucket %s (%s): emptied %d objects before deleting", bucket_id, name, removed
                        )
                    adapter.delete_bucket(name, region_code, placement)
        except ProviderError as error:
            self._record_failure(bucket_id, generation, error)
            return

        with self._release(bucket_id, generation) as outcome:
            if outcome is None:
                return
            session, bucket = outcome
            bucket.observed_generation = generation
            bucket.attempts = 0
            bucket.next_attempt_at = None
            bucket.status_reason = None
            if desired == DesiredState.PRESENT:
                bucket.status = BucketStatus.READY
                bucket.endpoint = endpoint
                record_event(session, bucket, "ready")
                log.info("bucket %s (%s) is ready at %s", bucket_id, name, endpoint)
            else:
                self.keys.released(session, bucket.id, releases)
                bucket.status = BucketStatus.DELETED
                bucket.deleted_at = utcnow()
                record_event(session, bucket, "released" if retain else "deleted")
                log.info("bucket %s (%s) is deleted", bucket_id, name)

    @contextmanager
    def _release(self, bucket_id: str, generation: int) -> Iterator[tuple[Session, Bucket] | None]:
        """End a claimed run: yields the bucket to record the outcome on, or ``None`` when a newer
        request arrived meanwhile; then that request is reconciled next, as its own task found the claim."""
        newer = False
        with self._db.session() as session:
            bucket = session.get(Bucket, bucket_id)
            if bucket is not None:
                bucket.claimed_until = None
                newer = bucket.generation != generation
            yield None if bucket is None or newer else (session, bucket)
        if newer:
            self._enqueue_reconcile(bucket_id)

    def _record_failure(self, bucket_id: str, generation: int, error: ProviderError) -> None:
        retry_in: float | None = None
        with self._release(bucket_id, generation) as claimed:
            if claimed is None:
                return
            session, bucket = claimed
            bucket.attempts += 1
            action = "create" if bucket.desired_state == DesiredState.PRESENT else "delete"
            if error.transient and bucket.attempts < MAX_ATTEMPTS:
                retry_in = backoff_seconds(bucket.attempts)
                bucket.next_attempt_at = utcnow() + timedelta(seconds=retry_in)
                bucket.status_reason = (
                    f"attempt {bucket.attempts} failed, retrying in {retry_in:.0f} s: {error.message}"
                )
                record_event(session, bucket, "retry", bucket.status_reason)
            else:
                gave_up = f" (gave up after {bucket.attempts} attempts)" if error.transient else ""
                bucket.status = BucketStatus.FAILED
                bucket.status_reason = f"{action} failed{gave_up}: {error.message}"
                bucket.observed_generation = generation
                bucket.next_attempt_at = None
                record_event(session, bucket, "failed", bucket.status_reason)
        log.warning("bucket %s: %s", bucket_id, error.message)
        if retry_in is not None:
            self._enqueue_reconcile(bucket_id, delay=retry_in)

    def resync(self) -> int:
        """Enqueue every bucket whose desired state is ahead of what was observed and is due now."""
        now = utcnow()
        with self._db.session() as session:
            due = session.scalars(repository.due_for_reconcile(now)).all()
        for bucket_id in due:
            self._enqueue_reconcile(bucket_id)
        if due:
            log.info("resync enqueued %d bucket(s)", len(due))
        return len(due)

    def check_drift(self) -> int:
        """Mark ready buckets that vanished at the provider ``lost``; never recreate one silently.

        A bucket removed outside the control plane may have been removed on purpose; recreating it
        would hand its name and keys back without anyone asking. ``replace`` re-provisions it.
        """
        with self._db.session() as session:
            found = session.execute(repository.ready_with_region()).all()
            ready = [(b.id, b.name, b.provider_id, code, b.placement) for b, code in found]
            adapters = {p: self._providers.adapter(session, p) for p in {row[2] for row in ready}}
        lost = 0
        for bucket_id, name, provider_id, region_code, placement in ready:
            try:
                exists = adapters[provider_id].bucket_exists(name, region_code, placement)
            except ProviderError as error:
                log.warning("drift check of bucket %s skipped: %s", bucket_id, error.message)
                continue
            with self._db.session() as session:
                bucket = session.get(Bucket, bucket_id)
                if bucket is None or bucket.status != BucketStatus.READY:
                    continue  # it changed meanwhile; the next check looks again
                bucket.last_checked_at = utcnow()
                if not exists:
                    bucket.status = BucketStatus.LOST
                    bucket.status_reason = (
                        f"bucket {name!r} no longer exists at the provider; it was removed outside "
                        "Loopback. Replace it to provision it again, or delete the record."
                    )
                    record_event(session, bucket, "lost", bucket.status_reason)
                    log.warning(
                        "bucket %s (%s) is lost: it no longer exists at the provider", bucket_id, name
                    )
                    lost += 1
        return lost

    def sync_usage(self, bucket_id: str) -> None:
        """Refresh object count, bytes and last sync time of one ready bucket."""
        with self._db.session() as session:
            bucket = session.get(Bucket, bucket_id)
            if bucket is None or bucket.status != BucketStatus.READY:
                return
            region = session.get(Region, bucket.region_id)
            assert region is not None
            adapter = self._providers.adapter(session, bucket.provider_id)
            name, region_code, placement = bucket.name, region.code, bucket.placement
        try:
            usage = adapter.read_usage(name, region_code, placement)
        except ProviderError as error:
            log.warning("usage of bucket %s not refreshed: %s", bucket_id, error.message)
            return
        with self._db.session() as session:
            bucket = session.get(Bucket, bucket_id)
            if bucket is None or bucket.status != BucketStatus.READY:
                return
            bucket.object_count = usage.object_count
            bucket.bytes = usage.bytes
            bucket.last_synced_at = utcnow()

    def sync_all_usage(self) -> int:
        with self._db.session() as session:
            ready = session.scalars(repository.ready_ids()).all()
        for bucket_id in ready:
            self._enqueue("usage.sync", bucket_id)
        return len(ready)
