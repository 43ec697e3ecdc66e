"""Credential services: keys over 1 to 128 buckets of a project, each grant with its own mode.

A request is checked whole before the provider is called: the buckets exist in the project and
are ready, sit at one provider region, and the family can enforce every mode, prefix, expiry and
rotation asked for; what it cannot enforce is refused (422), never silently widened. Secrets are
encrypted into the secret store at once and returned only by the call that issues or rotates.
The periodic round over keys lives in ``maintenance``. This module stays over 400 lines because
checking a request (``_resolve``, ``_check_enforceable``) is what issue, update and rotate share.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopback.buckets import repository as bucket_repository
from loopback.buckets.models import BucketStatus
from loopback.buckets.service import BucketService, BucketView, record_event
from loopback.credentials import repository
from loopback.credentials.issuing import Issuing
from loopback.credentials.maintenance import (
    EXPIRING_WITHIN,
    KeyMaintenance,
    MaintenanceReport,
    granted_buckets,
    placement_of,
    provider_grant,
)
from loopback.credentials.models import (
    CURRENT_POLICY_VERSION,
    Credential,
    CredentialGrant,
    CredentialStatus,
)
from loopback.kit.clock import utcnow
from loopback.kit.db import Database
from loopback.kit.enqueue import Enqueue
from loopback.kit.errors import (
    Conflict,
    FieldProblem,
    Invalid,
    NotFound,
    ProviderRefused,
    ProviderUnavailable,
)
from loopback.kit.ids import new_id
from loopback.kit.secrets import SecretStore
from loopback.providers.base import Access, Capabilities, Grant, ProviderError
from loopback.providers.models import Provider, Region
from loopback.providers.service import ProviderService
from loopback.tenancy import audit
from loopback.tenancy.access import ProjectScope

log = logging.getLogger(__name__)

MAX_GRACE_SECONDS = 30 * 86400
PREFIX_FORBIDDEN = frozenset("*?$\\\"'")  # policy wildcards and quoting: a prefix is literal


def provider_error(error: ProviderError) -> ProviderUnavailable | ProviderRefused:
    """The tenant's answer says what a tenant may read (``summary``); the raw text goes to the log."""
    log.warning("provider refused a key operation: %s (code %s)", error.message, error.code)
    if error.transient:
        return ProviderUnavailable(f"{error.summary}; nothing was recorded, try again")
    return ProviderRefused(error.summary)


@dataclass(frozen=True)
class GrantRequest:
    bucket_id: str
    access: str = Access.READ_WRITE
    prefix: str | None = None


@dataclass(frozen=True)
class KeyRequest:
    """What a caller asks for; ``grant_field`` names the fields in errors as the caller sent them."""

    grants: Sequence[GrantRequest]
    name: str | None = None
    expires_at: datetime | None = None
    grant_field: str = "grants"  # "" when the grant's fields are top-level (the bucket-scoped route)

    def field(self, index: int, name: str) -> str:
        """A grant's field as the caller sent it: ``grants.0.access``, or ``access`` for one bucket."""
        return f"{self.grant_field}.{index}.{name}" if self.grant_field else name


@dataclass(frozen=True)
class CredentialView:
    """A credential with what a response shows beside it: its buckets, provider, region, endpoint."""

    credential: Credential
    buckets: dict[str, str]  # bucket id -> bucket name, for every grant
    provider: str
    region: str
    endpoint: str | None
    status: str
    rotated_to: str | None = None

    @property
    def bucket_names(self) -> tuple[str, ...]:
        return tuple(self.buckets[g.bucket_id] for g in self.credential.grants if g.bucket_id in self.buckets)


def shown_status(credential: Credential, now: datetime | None = None) -> str:
    """``active``, ``expiring`` (within 7 days), ``rotating`` (grace running), ``expired``, ``revoked``."""
    if credential.status != CredentialStatus.ACTIVE:
        return credential.status
    now = now or utcnow()
    if credential.expires_at is not None and credential.expires_at <= now:
        return CredentialStatus.EXPIRED  # the periodic job revokes it at the provider within a round
    if credential.revoke_at is not None:
        return "rotating"
    if credential.expires_at is not None and credential.expires_at - now <= EXPIRING_WITHIN:
        return "expiring"
    return CredentialStatus.ACTIVE


def prefix_problems(prefix: str) -> list[str]:
    problems = []
    if not 1 <= len(prefix) <= 512:
        problems.append("a prefix is 1 to 512 characters")
    if prefix.startswith("/"):
        problems.append("a prefix does not start with '/': S3 keys have no leading slash")
    if any(c in PREFIX_FORBIDDEN or ord(c) < 32 for c in prefix):
        problems.append("a prefix is literal: no * ? $ \\ quotes or control characters")
    return problems


class CredentialService:
    def __init__(
        self,
        db: Database,
        providers: ProviderService,
        secrets: SecretStore,
        buckets: BucketService,
        enqueue: Enqueue,
    ) -> None:
        self._db = db
        self._providers = providers
        self._secrets = secrets
        self._buckets = buckets
        self._enqueue = enqueue
        self._issuing = Issuing(db, providers, enqueue)
        self._maintenance = KeyMaintenance(db, providers, self._issuing)

    # --- reading ------------------------------------------------------------------------------

    def page(
        self,
        session: Session,
        scope: ProjectScope,
        limit: int = 100,
        cursor: str | None = None,
        bucket_id: str | None = None,
    ) -> tuple[list[CredentialView], str | None]:
        """One page of the project's keys (or of those with a grant on ``bucket_id``), oldest first."""
        statement = repository.in_scope(scope).order_by(Credential.id).limit(limit + 1)
        if cursor:
            statement = statement.where(Credential.id > cursor)
        if bucket_id is not None:
            statement = statement.where(Credential.id.in_(repository.granted_on(bucket_id)))
        rows = list(session.scalars(statement))
        next_cursor = rows[limit - 1].id if len(rows) > limit else None
        return self._views(session, rows[:limit]), next_cursor

    def get(
        self, session: Session, scope: ProjectScope, credential_id: str, bucket_id: str | None = None
    ) -> CredentialView:
        return self._views(session, [self._row(session, scope, credential_id, bucket_id)])[0]

    def _row(
        self, session: Session, scope: ProjectScope, credential_id: str, bucket_id: str | None = None
    ) -> Credential:
        credential = session.scalars(
            repository.in_scope(scope).where(Credential.id == credential_id)
        ).one_or_none()
        if credential is None or (
            bucket_id is not None and all(g.bucket_id != bucket_id for g in credential.grants)
        ):
            where = f"bucket {bucket_id}" if bucket_id else f"project {scope.project_slug!r}"
            raise NotFound(f"credential {credential_id} does not exist for {where}")
        return credential

    def _views(self, session: Session, credentials: Sequence[Credential]) -> list[CredentialView]:
        """Views of many credentials in three queries, whatever their number."""
        if not credentials:
            return []
        bucket_ids = {g.bucket_id for c in credentials for g in c.grants}
        names = dict(session.execute(bucket_repository.names_of(bucket_ids)).all())
        region_ids = {c.region_id for c in credentials}
        regions = {
            row.id: row
            for row in session.execute(
                select(Region.id, Region.code, Region.endpoint, Provider.name)
                .join(Provider, Provider.id == Region.provider_id)
                .where(Region.id.in_(region_ids))
            )
        }
        ids = [c.id for c in credentials]
        successors = dict(session.execute(repository.successors_of(ids)).all())
        now = utcnow()
        views = []
        for credential in credentials:
            region = regions[credential.region_id]
            views.append(
                CredentialView(
                    credential=credential,
                    buckets={g.bucket_id: names.get(g.bucket_id, g.bucket_id) for g in credential.grants},
                    provider=region.name,
                    region=region.code,
                    endpoint=region.endpoint,
                    status=shown_status(credential, now),
                    rotated_to=successors.get(credential.id),
                )
            )
        return views

    # --- checking a request -------------------------------------------------------------------

    def _resolve(
        self, session: Session, scope: ProjectScope, request: KeyRequest
    ) -> tuple[list[BucketView], list[Grant]]:
        """The request's buckets and provider grants, or 422 naming every field at fault."""
        problems: list[FieldProblem] = []
        if not request.grants:
            problems.append(FieldProblem(request.grant_field or "bucket_id", "at least one bucket"))
        if request.name is not None and not 1 <= len(request.name.strip()) <= 63:
            problems.append(FieldProblem("name", "a name is 1 to 63 characters"))
        if request.expires_at is not None and request.expires_at <= utcnow():
            problems.append(FieldProblem("expires_at", "must be in the future"))
        found = self._buckets.get_many(session, scope, [g.bucket_id for g in request.grants])
        views: list[BucketView] = []
        seen: set[str] = set()
        for index, asked in enumerate(request.grants):
            if asked.bucket_id in seen:
                problems.append(
                    FieldProblem(request.field(index, "bucket_id"), "this bucket is granted twice")
                )
            seen.add(asked.bucket_id)
            view = found.get(asked.bucket_id)
            if view is None:
                problems.append(
                    FieldProblem(
                        request.field(index, "bucket_id"), f"no bucket {asked.bucket_id} in this project"
                    )
                )
            elif views and (view.bucket.region_id != views[0].bucket.region_id):
                problems.append(
                    FieldProblem(
                        request.field(index, "bucket_id"),
                        f"bucket {view.bucket.name} is in {view.provider}/{view.region}, the first in "
                        f"{views[0].provider}/{views[0].region}: one key reaches one provider region",
                    )
                )
            else:
                views.append(view)
            if asked.access not in {a.value for a in Access}:
                problems.append(
                    FieldProblem(request.field(index, "access"), "one of read-write, read-only, write-only")
                )
            if asked.prefix is not None:
                problems += [
                    FieldProblem(request.field(index, "prefix"), p) for p in prefix_problems(asked.prefix)
                ]
        if problems:
            raise Invalid(problems)
        not_ready = [v.bucket.name for v in views if v.bucket.status != BucketStatus.READY]
        if not_ready:
            late = [v.bucket for v in views if v.bucket.status != BucketStatus.READY]
            which = "this one" if len(views) == 1 else ", ".join(b.name for b in late)
            raise Conflict(f"credentials are issued for ready buckets; {which} is {late[0].status}")
        capabilities = self._providers.adapter(session, views[0].bucket.provider_id).capabilities()
        self._check_enforceable(capabilities, views[0].provider, request)
        grants = [
            provider_grant(view.bucket, asked.access, asked.prefix)
            for view, asked in zip(views, request.grants, strict=True)
        ]
        return views, grants

    def _check_enforceable(self, capabilities: Capabilities, provider: str, request: KeyRequest) -> None:
        """422 for anything the family cannot hold a key to, naming the field and the reason."""
        reason = capabilities.limits_reason or "the family cannot enforce it"
        problems: list[FieldProblem] = []
        for index, asked in enumerate(request.grants):
            if asked.access not in capabilities.access_modes:
                problems.append(
                    FieldProblem(
                        request.field(index, "access"),
                        f"provider {provider}: {asked.access} is not enforceable: {reason}",
                    )
                )
            if asked.prefix and not capabilities.prefixes:
                problems.append(
                    FieldProblem(
                        request.field(index, "prefix"),
                        f"provider {provider}: prefixes are not enforceable: {reason}",
                    )
                )
        if len(request.grants) > capabilities.max_buckets_per_key:
            problems.append(
                FieldProblem(
                    request.grant_field or "bucket_id",
                    f"provider {provider}: one key reaches at most "
                    f"{capabilities.max_buckets_per_key} buckets",
                )
            )
        if request.expires_at is not None and not capabilities.revocable:
            problems.append(
                FieldProblem(
                    "expires_at", f"provider {provider}: keys cannot be revoked, so cannot expire: {reason}"
                )
            )
        if problems:
            raise Invalid(problems)

    # --- changing -----------------------------------------------------------------------------

    def issue(
        self,
        session: Session,
        scope: ProjectScope,
        request: KeyRequest,
        rotated_from: Credential | None = None,
    ) -> tuple[CredentialView, str]:
        """Create an identity at the provider held to the grants; the secret is returned once."""
        views, grants = self._resolve(session, scope, request)
        first = views[0].bucket
        credential_id = new_id("crd")
        adapter = self._providers.adapter(session, first.provider_id)
        user_name = f"lb-{credential_id}"
        try:
            with self._issuing.attempt(credential_id, first, user_name):
                issued = adapter.issue_credential(views[0].region, user_name, grants, first.placement)
        except ProviderError as error:
            self._issuing.given_up(credential_id)
            raise provider_error(error) from None
        try:
            credential = Credential(
                id=credential_id,
                organization_id=scope.organization_id,
                project_id=scope.project_id,
                name=(request.name or "").strip() or f"key for {first.name}",
                provider_id=first.provider_id,
                region_id=first.region_id,
                access_key_id=issued.access_key_id,
                secret_id=self._secrets.put(session, "credential", issued.secret_access_key),
                provider_user=issued.provider_user,
                status=CredentialStatus.ACTIVE,
                policy_version=CURRENT_POLICY_VERSION,
                expires_at=request.expires_at,
                rotated_from_id=rotated_from.id if rotated_from else None,
                grants=[
                    CredentialGrant(
                        bucket_id=view.bucket.id, position=i, access=asked.access, prefix=asked.prefix
                    )
                    for i, (view, asked) in enumerate(zip(views, request.grants, strict=True))
                ],
            )
            session.add(credential)
            described = ", ".join(
                f"{g.bucket} {g.access.value}{' ' + g.prefix if g.prefix else ''}" for g in grants
            )
            if rotated_from is None:
                audit.record_in(
                    session, scope, "credential.issue", credential.id, f"{issued.access_key_id}: {described}"
                )
            session.flush()
            self._issuing.recorded(session, credential_id)  # commits with the record, or refuses it
        except Exception as failure:
            session.rollback()
            try:  # a key nobody has a record of must not stay valid
                adapter.revoke_credential(views[0].region, issued.provider_user, first.placement)
            except ProviderError:
                log.error("credential %s could not be recorded nor revoked at the provider", credential_id)
                raise  # the row stays, and the upkeep removes the identity once its lease ends
            self._issuing.given_up(credential_id)
            if isinstance(failure, ProviderError):
                raise provider_error(failure) from None
            raise
        log.info("issued credential %s (%s) for %s", credential.id, credential.access_key_id, described)
        view = self._views(session, [credential])[0]
        return view, issued.secret_access_key

    def issue_and_commit(
        self, session: Session, scope: ProjectScope, request: KeyRequest
    ) -> tuple[CredentialView, str]:
        view, secret = self.issue(session, scope, request)
        session.commit()
        return view, secret

    def update(
        self,
        session: Session,
        scope: ProjectScope,
        credential_id: str,
        name: str | None = None,
        grants: Sequence[GrantRequest] | None = None,
    ) -> CredentialView:
        """Rename a key or change its grants; the secret stays, the provider's policy follows."""
        credential = self._row(session, scope, credential_id)
        if credential.status != CredentialStatus.ACTIVE:
            raise Conflict(f"credential {credential_id} is {credential.status}; only active keys change")
        if name is not None:
            if not 1 <= len(name.strip()) <= 63:
                raise Invalid.field("name", "a name is 1 to 63 characters")
            credential.name = name.strip()
        if grants is not None:
            request = KeyRequest(grants=grants, expires_at=None)
            views, provider_grants = self._resolve(session, scope, request)
            if views[0].bucket.region_id != credential.region_id:
                raise Invalid.field(
                    "grants.0.bucket_id", "a key stays at the provider region it was issued for"
                )
            adapter = self._providers.adapter(session, credential.provider_id)
            capabilities = adapter.capabilities()
            if not capabilities.narrowable and self._narrows(credential, grants):
                reason = capabilities.limits_reason
                raise Invalid.field(
                    "grants", f"provider {views[0].provider}: a key's grants cannot be narrowed: {reason}"
                )
            try:
                adapter.update_credential(
                    views[0].region, credential.provider_user, provider_grants, views[0].bucket.placement
                )
            except ProviderError as error:
                raise provider_error(error) from None
            credential.grants = [
                CredentialGrant(
                    bucket_id=view.bucket.id, position=i, access=asked.access, prefix=asked.prefix
                )
                for i, (view, asked) in enumerate(zip(views, grants, strict=True))
            ]
            credential.policy_version = CURRENT_POLICY_VERSION
        audit.record_in(session, scope, "credential.update", credential.id, credential.access_key_id)
        session.commit()
        return self._views(session, [credential])[0]

    @staticmethod
    def _narrows(credential: Credential, grants: Sequence[GrantRequest]) -> bool:
        """Whether the new grants drop a bucket the key had, or grant one of them differently."""
        old = {g.bucket_id: (g.access, g.prefix) for g in credential.grants}
        new = {g.bucket_id: (g.access, g.prefix) for g in grants}
        return any(bucket not in new or new[bucket] != held for bucket, held in old.items())

    def rotate(
        self, session: Session, scope: ProjectScope, credential_id: str, grace_seconds: int
    ) -> tuple[CredentialView, str]:
        """A new key with the same grants; the old one works ``grace_seconds`` more, then is revoked."""
        old = self._row(session, scope, credential_id)
        if old.status != CredentialStatus.ACTIVE or old.revoke_at is not None:
            raise Conflict(
                f"credential {credential_id} is {shown_status(old)}; only an active key that is not "
                "already being rotated can be rotated"
            )
        if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
            raise Invalid.field("grace_seconds", f"0 to {MAX_GRACE_SECONDS} seconds (30 days)")
        adapter = self._providers.adapter(session, old.provider_id)
        capabilities = adapter.capabilities()
        if not capabilities.revocable:
            raise Invalid.field(
                "credential", f"keys of this provider cannot be rotated: {capabilities.limits_reason}"
            )
        request = KeyRequest(
            name=old.name,
            expires_at=old.expires_at if old.expires_at and old.expires_at > utcnow() else None,
            grants=[GrantRequest(g.bucket_id, g.access, g.prefix) for g in old.grants],
        )
        view, secret = self.issue(session, scope, request, rotated_from=old)
        old.revoke_at = utcnow() + timedelta(seconds=grace_seconds)
        audit.record_in(
            session,
            scope,
            "credential.rotate",
            old.id,
            f"{old.access_key_id} -> {view.credential.access_key_id}, grace {grace_seconds} s",
        )
        for bucket in granted_buckets(session, old):
            record_event(
                session,
                bucket,
                "credential-rotated",
                f"{old.access_key_id} -> {view.credential.access_key_id}",
            )
        session.commit()
        if grace_seconds == 0:
            self._maintenance.revoke_due(old.id, CredentialStatus.REVOKED, "credential.rotation-ended")
        else:
            self._enqueue("credential.maintain", delay=grace_seconds + 1)
        session.refresh(old)
        return self._views(session, [view.credential])[0], secret

    def revoke(
        self, session: Session, scope: ProjectScope, credential_id: str, bucket_id: str | None = None
    ) -> CredentialView:
        """Remove the identity at the provider, then mark the record revoked; revoking twice is fine."""
        credential = self._row(session, scope, credential_id, bucket_id)
        if credential.status != CredentialStatus.ACTIVE:
            return self._views(session, [credential])[0]
        region = session.get(Region, credential.region_id)
        assert region is not None
        adapter = self._providers.adapter(session, credential.provider_id)
        buckets = granted_buckets(session, credential)
        try:
            placement = placement_of(credential, buckets)
            adapter.revoke_credential(region.code, credential.provider_user, placement)
        except ProviderError as error:
            raise provider_error(error) from None
        credential.mark_revoked(session)
        audit.record_in(session, scope, "credential.revoke", credential.id, credential.access_key_id)
        key = credential.access_key_id
        named = f"{key} ({credential.name})" if credential.name else key
        for bucket in buckets:  # its history, and the webhooks' key.revoked, say so on each bucket
            record_event(session, bucket, "credential-revoked", named)
        session.commit()
        return self._views(session, [credential])[0]

    def forget_abandoned(self, credential_id: str) -> None:
        """The task asked for when a key's issue began: see ``Issuing.forget``."""
        self._issuing.forget(credential_id)

    def maintain(self) -> MaintenanceReport:
        """The periodic round (``credential.maintain``): see ``KeyMaintenance.run``."""
        return self._maintenance.run()
