"""Where a new bucket goes: the provider and region it asks for, checked, and the tenant's key slot."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopback.kit.errors import Invalid
from loopback.kit.ids import new_id
from loopback.providers.adapters import Adapters
from loopback.providers.base import Placement
from loopback.providers.models import Provider, ProviderSlot, Region


def resolve(session: Session, provider_name: str, region_code: str) -> tuple[Provider, Region]:
    """The provider and region a new bucket asks for, or a 422 that names the field at fault.

    The texts say what is wrong, not where to look: each client points at its own list (the CLI's
    ``loopback regions``, the console's picker), and the OpenAPI document names ``GET /v3/regions``
    in the fields' descriptions.
    """
    provider = session.scalar(select(Provider).where(Provider.name == provider_name))
    if provider is None:
        raise Invalid.field("provider", f"no provider named {provider_name!r}")
    if not provider.enabled:
        raise Invalid.field("provider", f"provider {provider_name!r} takes no new buckets")
    region = session.scalar(
        select(Region).where(Region.provider_id == provider.id, Region.code == region_code)
    )
    if region is None:
        raise Invalid.field("region", f"provider {provider_name!r} has no region {region_code!r}")
    if not region.enabled:
        raise Invalid.field("region", f"region {region_code!r} takes no new buckets")
    return provider, region


def place(
    session: Session, adapters: Adapters, provider: Provider, organization_id: str, project_id: str
) -> Placement:
    """Where a tenant's new bucket goes at ``provider``: its key slot, assigned on first use.

    Slots isolate per project by default (setting ``isolation: organization`` shares one per
    organization). With none free, the bucket is refused with the reason, naming the field.
    """
    adapter = adapters.get(session, provider.id)
    slots = adapter.slots()
    if not slots:
        if adapter.capabilities().keys_by_slot:
            raise Invalid.field(
                "provider",
                f"provider {provider.name!r} has no linked keys yet, so no bucket can be placed "
                "there; ask the operator to link one",
            )
        return Placement(organization_id, project_id)
    per_project = provider.settings.get("isolation", "project") == "project"
    mine = select(ProviderSlot.slot).where(
        ProviderSlot.provider_id == provider.id, ProviderSlot.organization_id == organization_id
    )
    if per_project:
        mine = mine.where(ProviderSlot.project_id == project_id)
    slot = session.scalar(mine)
    if slot is None:
        slot = _assign(session, provider, slots, organization_id, project_id if per_project else None)
    return Placement(organization_id, project_id, slot)


def _assign(
    session: Session,
    provider: Provider,
    slots: tuple[str, ...],
    organization_id: str,
    project_id: str | None,
) -> str:
    """The first slot no tenant holds, now the tenant's (``project_id`` is None per organization)."""
    taken = set(session.scalars(select(ProviderSlot.slot).where(ProviderSlot.provider_id == provider.id)))
    free = [candidate for candidate in slots if candidate not in taken]
    if not free:
        scope = "project" if project_id is not None else "organization"
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
            project_id=project_id,
        )
    )
    session.flush()  # the unique (provider, slot) index settles a race: one create gets a 409
    return slot
