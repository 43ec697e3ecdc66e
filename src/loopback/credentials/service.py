"""Credential services: issue a key that reaches one bucket, list keys without secrets, revoke."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopback.buckets.models import BucketStatus
from loopback.buckets.service import BucketView
from loopback.credentials.models import Credential
from loopback.credentials.secrets import SecretStore
from loopback.kit.errors import Conflict, NotFound, ProviderRefused, ProviderUnavailable
from loopback.kit.ids import new_id
from loopback.providers.base import ProviderError
from loopback.providers.service import ProviderService
from loopback.tenancy import audit
from loopback.tenancy.access import ProjectScope

log = logging.getLogger(__name__)


def provider_error(error: ProviderError) -> ProviderUnavailable | ProviderRefused:
    if error.transient:
        return ProviderUnavailable(f"{error.message}; nothing was recorded, try again")
    return ProviderRefused(error.message)


class CredentialService:
    def __init__(self, providers: ProviderService, secrets: SecretStore) -> None:
        self._providers = providers
        self._secrets = secrets

    def issue(self, session: Session, scope: ProjectScope, view: BucketView) -> tuple[Credential, str]:
        """Create an identity at the provider scoped to this bucket; the secret is returned once."""
        bucket = view.bucket
        if bucket.status != BucketStatus.READY:
            raise Conflict(f"credentials are issued for ready buckets; this one is {bucket.status}")
        credential_id = new_id("crd")
        adapter = self._providers.adapter(session, bucket.provider_id)
        try:
            issued = adapter.issue_credential(
                bucket.name, view.region, f"lb-{credential_id}", bucket.placement
            )
        except ProviderError as error:
            raise provider_error(error) from None
        try:
            credential = Credential(
                id=credential_id,
                organization_id=scope.organization_id,
                project_id=scope.project_id,
                bucket_id=bucket.id,
                access_key_id=issued.access_key_id,
                secret_id=self._secrets.put(session, "credential", issued.secret_access_key),
                provider_user=issued.provider_user,
                status="active",
            )
            session.add(credential)
            audit.record_in(session, scope, "credential.issue", credential.id, issued.access_key_id)
            session.commit()
        except Exception:
            session.rollback()
            try:  # a key nobody has a record of must not stay valid
                adapter.revoke_credential(view.region, issued.provider_user, bucket.placement)
            except ProviderError:
                log.error("credential %s could not be recorded nor revoked at the provider", credential_id)
            raise
        log.info(
            "issued credential %s (%s) for bucket %s",
            credential.id,
            credential.access_key_id,
            bucket.id,
        )
        return credential, issued.secret_access_key

    def list(self, session: Session, scope: ProjectScope, bucket_id: str) -> list[Credential]:
        return list(
            session.scalars(
                select(Credential)
                .where(
                    Credential.organization_id == scope.organization_id,
                    Credential.project_id == scope.project_id,
                    Credential.bucket_id == bucket_id,
                )
                .order_by(Credential.id)
            )
        )

    def revoke(
        self, session: Session, scope: ProjectScope, view: BucketView, credential_id: str
    ) -> Credential:
        """Remove the identity at the provider, then mark the record revoked; revoking twice is fine."""
        credential = next(
            (c for c in self.list(session, scope, view.bucket.id) if c.id == credential_id), None
        )
        if credential is None:
            raise NotFound(f"credential {credential_id} does not exist for bucket {view.bucket.id}")
        if credential.status == "revoked":
            return credential
        adapter = self._providers.adapter(session, view.bucket.provider_id)
        try:
            adapter.revoke_credential(view.region, credential.provider_user, view.bucket.placement)
        except ProviderError as error:
            raise provider_error(error) from None
        credential.mark_revoked(session)
        audit.record_in(session, scope, "credential.revoke", credential.id, credential.access_key_id)
        session.commit()
        return credential
