"""Providers and regions: the one service callers use, composed of the modules that do each job.

- ``queries``: reading providers and regions, the operator's views, readiness;
- ``adapters``: one adapter per provider record, rebuilt when the record changes;
- ``placement``: the provider and region a new bucket asks for, and the tenant's key slot;
- ``configuration`` (with ``region_config``): create, update, apply, enable, ``ensure_provider``,
  secrets kept as references;
- ``check``: the round trip through a region.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from loopback.kit.secrets import SecretStore
from loopback.providers import check as round_trip
from loopback.providers import placement, queries
from loopback.providers.adapters import REDACTED, Adapters, scrub, setup_secrets
from loopback.providers.base import Capabilities, Placement, RegionSpec, StorageProvider
from loopback.providers.check import CheckResult, CheckStep
from loopback.providers.configuration import Configuration
from loopback.providers.models import Provider, Region
from loopback.providers.queries import ProviderView, RegionChoice, SlotView
from loopback.providers.region_config import EndpointChanged, built_in_countries
from loopback.providers.schemas import ProviderCreate, ProviderUpdate
from loopback.tenancy import audit
from loopback.tenancy.access import Principal

__all__ = [
    "REDACTED",
    "CheckResult",
    "CheckStep",
    "EndpointChanged",
    "ProviderService",
    "ProviderView",
    "RegionChoice",
    "SlotView",
    "built_in_countries",
    "scrub",
    "setup_secrets",
]


class ProviderService:
    """Reads and changes provider configuration; keeps one adapter per provider until its record changes."""

    def __init__(self, secrets: SecretStore) -> None:
        self._adapters = Adapters(secrets)
        self._configuration = Configuration(secrets, self._adapters)

    def when_endpoint_changes(self, listener: EndpointChanged) -> None:
        """Call ``listener(session, region_id, endpoint)`` in the transaction that moves a region."""
        self._configuration.when_endpoint_changes(listener)

    # --- reading ---------------------------------------------------------------------------------

    def providers(self, session: Session) -> list[tuple[Provider, list[Region]]]:
        """Every provider with its regions, enabled or not, for the operator."""
        return queries.providers(session)

    def get(self, session: Session, name: str) -> Provider:
        return queries.get(session, name)

    def views(self, session: Session) -> list[ProviderView]:
        return queries.views(session, self._adapters)

    def view(self, session: Session, provider: Provider) -> ProviderView:
        return queries.view(session, self._adapters, provider)

    def capabilities(self, session: Session, provider: Provider) -> tuple[Capabilities | None, str | None]:
        """What the provider's adapter can do, or why it cannot be built now (never with a secret in it)."""
        return queries.capabilities(session, self._adapters, provider)

    def readiness(self, session: Session) -> dict[str, dict[str, str | None]]:
        """Each provider's last check for /readyz: ``ok``, ``failing`` or ``unchecked``, and when."""
        return queries.readiness(session)

    def regions(
        self, session: Session, provider: str | None = None, family: str | None = None
    ) -> list[RegionChoice]:
        """Every enabled region of every enabled provider, ordered for a picker."""
        return queries.regions(session, self._adapters, provider, family)

    # --- adapters and placement ------------------------------------------------------------------

    def adapter(self, session: Session, provider_id: str) -> StorageProvider:
        return self._adapters.get(session, provider_id)

    def place(self, session: Session, provider: Provider, organization_id: str, project_id: str) -> Placement:
        """Where a tenant's new bucket goes at ``provider``: its key slot, assigned on first use."""
        return placement.place(session, self._adapters, provider, organization_id, project_id)

    def resolve(self, session: Session, provider_name: str, region_code: str) -> tuple[Provider, Region]:
        """The provider and region a new bucket asks for, or a 422 that names the field at fault."""
        return placement.resolve(session, provider_name, region_code)

    # --- changing --------------------------------------------------------------------------------

    def create(self, session: Session, spec: ProviderCreate, principal: Principal | None = None) -> Provider:
        """A new provider with its secrets stored and its regions; 409 when the name is taken.

        With ``principal`` (an operator's API call, not the providers file) the change is audited.
        """
        provider = self._configuration.create(session, spec)
        if principal is not None:
            audit.record(session, principal, "provider.create", target=provider.name, detail=provider.family)
            session.commit()
        return provider

    def update(
        self, session: Session, provider: Provider, patch: ProviderUpdate, principal: Principal | None = None
    ) -> list[str]:
        """Apply ``patch``; answers what changed, nothing when it gave what is there."""
        changed = self._configuration.update(session, provider, patch)
        if changed and principal is not None:
            detail = ", ".join(changed)[:1000]
            audit.record(session, principal, "provider.update", target=provider.name, detail=detail)
        if principal is not None:
            session.commit()
        return changed

    def apply(self, session: Session, spec: ProviderCreate) -> tuple[Provider, list[str]]:
        """Create the provider or bring it to what ``spec`` states (the fields it gives, no others)."""
        return self._configuration.apply(session, spec)

    def set_enabled(
        self, session: Session, provider: Provider, enabled: bool, principal: Principal | None = None
    ) -> bool:
        """Enable or disable; a disabled provider takes no new buckets, its existing ones keep working."""
        changed = self._configuration.set_enabled(session, provider, enabled)
        if changed and principal is not None:
            action = "provider.enable" if enabled else "provider.disable"
            audit.record(session, principal, action, target=provider.name)
        if principal is not None:
            session.commit()
        return changed

    def ensure_provider(
        self,
        session: Session,
        *,
        name: str,
        family: str,
        display_name: str,
        regions: list[RegionSpec],
        access_key_id: str,
        secret_access_key: str,
        settings: dict[str, Any] | None = None,
    ) -> Provider:
        """Create or update a provider and its regions; applying the same input twice changes nothing.
        ``settings`` (when given) are set as given, beside any others the provider has."""
        return self._configuration.ensure_provider(
            session,
            name=name,
            family=family,
            display_name=display_name,
            regions=regions,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            settings=settings,
        )

    # --- the round trip --------------------------------------------------------------------------

    def check(
        self,
        session: Session,
        provider: Provider,
        region_code: str | None = None,
        principal: Principal | None = None,
    ) -> CheckResult:
        """Create a scratch bucket, issue a key for it, write, read and delete an object with that key,
        revoke the key and delete the bucket, timing each step; the outcome is kept on the provider."""
        result = round_trip.check(session, self._adapters, provider, region_code)
        if principal is not None:
            outcome = "ok" if result.ok else result.error
            detail = f"{result.region}: {outcome}"[:1000]
            audit.record(session, principal, "provider.test", target=provider.name, detail=detail)
            session.commit()
        return result
