"""Providers and regions: what the operator configured, and adapters built from it on demand."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopback.credentials.secrets import SecretStore
from loopback.kit.clock import utcnow
from loopback.kit.errors import Invalid
from loopback.kit.ids import new_id
from loopback.providers.base import Placement, RegionSpec, StorageProvider
from loopback.providers.models import Provider, ProviderSlot, Region
from loopback.providers.registry import ProviderSetup, build_provider


@dataclass(frozen=True)
class RegionChoice:
    """A region as a picker shows it: which provider, which family, where, and its endpoint."""

    provider: str
    family: str
    code: str
    name: str
    endpoint: str


class ProviderService:
    """Reads provider configuration and keeps one adapter per provider until its record changes."""

    def __init__(self, secrets: SecretStore) -> None:
        self._secrets = secrets
        self._adapters: dict[str, tuple[datetime, StorageProvider]] = {}
        self._lock = threading.Lock()

    def providers(self, session: Session) -> list[tuple[Provider, list[Region]]]:
        """Every provider with its regions, enabled or not, for the operator."""
        regions: dict[str, list[Region]] = {}
        for region in session.scalars(select(Region).order_by(Region.code)):
            regions.setdefault(region.provider_id, []).append(region)
        return [(p, regions.get(p.id, [])) for p in session.scalars(select(Provider).order_by(Provider.name))]

    def adapter(self, session: Session, provider_id: str) -> StorageProvider:
        provider = session.get(Provider, provider_id)
        if provider is None:
            raise LookupError(f"provider {provider_id} does not exist")
        with self._lock:
            cached = self._adapters.get(provider_id)
            if cached is not None and cached[0] == provider.updated_at:
                return cached[1]
        regions = session.scalars(
            select(Region).where(Region.provider_id == provider.id).order_by(Region.code)
        ).all()
        secret = self._secrets.get(session, provider.secret_id) if provider.secret_id else None
        adapter = build_provider(
            ProviderSetup(
                name=provider.name,
                family=provider.family,
                settings=dict(provider.settings),
                regions=tuple(RegionSpec(r.code, r.name, r.endpoint) for r in regions),
                access_key_id=provider.access_key_id,
                secret_access_key=secret,
            )
        )
        with self._lock:
            self._adapters[provider_id] = (provider.updated_at, adapter)
        return adapter

    def place(self, session: Session, provider: Provider, organization_id: str, project_id: str) -> Placement:
        """Where a tenant's new bucket goes at ``provider``: its key slot, assigned on first use.

        Slots isolate per project by default (setting ``isolation: organization`` shares one per
        organization). With none free, the bucket is refused with the reason, naming the field.
        """
        slots = self.adapter(session, provider.id).slots()
        if not slots:
            return Placement(organization_id, project_id)
        per_project = provider.settings.get("isolation", "project") == "project"
        mine = select(ProviderSlot.slot).where(
            ProviderSlot.provider_id == provider.id, ProviderSlot.organization_id == organization_id
        )
        if per_project:
            mine = mine.where(ProviderSlot.project_id == project_id)
        slot = session.scalar(mine)
        if slot is None:
            taken = set(
                session.scalars(select(ProviderSlot.slot).where(ProviderSlot.provider_id == provider.id))
            )
            free = [candidate for candidate in slots if candidate not in taken]
            if not free:
                scope = "project" if per_project else "organization"
                raise Invalid.field(
                    "provider",
                    f"provider {provider.name!r} has no key slot left for another {scope}: each of its "
                    f"{len(slots)} linked keys reaches a whole account, so none is shared between tenants; "
                    "ask the operator to link another key or choose another provider",
                )
            slot = free[0]
            session.add(
                ProviderSlot(
                    id=new_id("pst"),
                    provider_id=provider.id,
                    slot=slot,
                    organization_id=organization_id,
                    project_id=project_id if per_project else None,
                )
            )
            session.flush()  # the unique (provider, slot) index settles a race: one create gets a 409
        return Placement(organization_id, project_id, slot)

    def regions(self, session: Session) -> list[RegionChoice]:
        """Every enabled region of every enabled provider, ordered for a picker."""
        rows = session.execute(
            select(Provider, Region)
            .join(Region, Region.provider_id == Provider.id)
            .where(Provider.enabled.is_(True), Region.enabled.is_(True))
            .order_by(Provider.name, Region.name, Region.code)
        ).all()
        return [RegionChoice(p.name, p.family, r.code, r.name, r.endpoint) for p, r in rows]

    def resolve(self, session: Session, provider_name: str, region_code: str) -> tuple[Provider, Region]:
        """The provider and region a new bucket asks for, or a 422 that names the field at fault."""
        provider = session.scalar(select(Provider).where(Provider.name == provider_name))
        if provider is None:
            raise Invalid.field(
                "provider", f"no provider named {provider_name!r}; GET /v3/regions lists them"
            )
        if not provider.enabled:
            raise Invalid.field("provider", f"provider {provider_name!r} takes no new buckets")
        region = session.scalar(
            select(Region).where(Region.provider_id == provider.id, Region.code == region_code)
        )
        if region is None:
            raise Invalid.field(
                "region",
                f"provider {provider_name!r} has no region {region_code!r}; GET /v3/regions lists them",
            )
        if not region.enabled:
            raise Invalid.field("region", f"region {region_code!r} takes no new buckets")
        return provider, region

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
    ) -> Provider:
        """Create or update a provider and its regions; applying the same input twice changes nothing."""
        provider = session.scalar(select(Provider).where(Provider.name == name))
        changed = provider is None
        if provider is None:
            provider = Provider(
                id=new_id("prv"), name=name, family=family, display_name=display_name, settings={}
            )
            session.add(provider)
        if (provider.family, provider.display_name, provider.access_key_id) != (
            family,
            display_name,
            access_key_id,
        ):
            provider.family, provider.display_name, provider.access_key_id = (
                family,
                display_name,
                access_key_id,
            )
            changed = True
        if provider.secret_id is None:
            provider.secret_id = self._secrets.put(session, "provider", secret_access_key)
        elif self._secrets.get(session, provider.secret_id) != secret_access_key:
            self._secrets.replace(session, provider.secret_id, secret_access_key)
            changed = True
        existing = {
            r.code: r for r in session.scalars(select(Region).where(Region.provider_id == provider.id))
        }
        for spec in regions:
            region = existing.get(spec.code)
            if region is None:
                session.add(
                    Region(
                        id=new_id("reg"),
                        provider_id=provider.id,
                        code=spec.code,
                        name=spec.name,
                        endpoint=spec.endpoint,
                    )
                )
                changed = True
            elif (region.name, region.endpoint) != (spec.name, spec.endpoint):
                region.name, region.endpoint = spec.name, spec.endpoint
                changed = True
        if changed:
            provider.updated_at = utcnow()  # cached adapters compare this stamp and rebuild
        session.flush()
        return provider
