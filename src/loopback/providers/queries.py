"""Reading providers and regions: the operator's views, a tenant's region picker, and readiness."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopback.kit.errors import NotFound
from loopback.providers.adapters import Adapters, scrub
from loopback.providers.base import Capabilities
from loopback.providers.models import Provider, ProviderSlot, Region

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegionChoice:
    """A region as a picker shows it: which provider and family, where, its endpoint, what it can do."""

    provider: str
    provider_name: str
    family: str
    code: str
    name: str
    country: str | None
    endpoint: str
    capabilities: Capabilities | None


@dataclass(frozen=True)
class SlotView:
    name: str
    access_key_id: str
    secret_id: str
    organization_id: str | None
    project_id: str | None


@dataclass(frozen=True)
class ProviderView:
    """A provider for the operator: its record and regions, what it can do, or why it cannot be built."""

    provider: Provider
    regions: list[Region]
    capabilities: Capabilities | None
    problem: str | None
    slots: list[SlotView]


def providers(session: Session) -> list[tuple[Provider, list[Region]]]:
    """Every provider with its regions, enabled or not, for the operator."""
    regions: dict[str, list[Region]] = {}
    for region in session.scalars(select(Region).order_by(Region.code)):
        regions.setdefault(region.provider_id, []).append(region)
    return [(p, regions.get(p.id, [])) for p in session.scalars(select(Provider).order_by(Provider.name))]


def get(session: Session, name: str) -> Provider:
    provider = session.scalar(select(Provider).where(Provider.name == name))
    if provider is None:
        raise NotFound(f"no provider named {name!r}; `loopback providers list` shows them")
    return provider


def provider_regions(session: Session, provider: Provider) -> list[Region]:
    """The provider's regions, enabled or not, by code."""
    return list(
        session.scalars(select(Region).where(Region.provider_id == provider.id).order_by(Region.code))
    )


def capabilities(
    session: Session, adapters: Adapters, provider: Provider
) -> tuple[Capabilities | None, str | None]:
    """What the provider's adapter can do, or why it cannot be built now (never with a secret in it)."""
    try:
        return adapters.get(session, provider.id).capabilities(), None
    except Exception as error:
        reason = scrub(f"{type(error).__name__}: {error}", adapters.known_secrets(session, provider))
        log.warning("provider %s cannot be built: %s", provider.name, reason)
        return None, reason


def view(
    session: Session, adapters: Adapters, provider: Provider, regions: list[Region] | None = None
) -> ProviderView:
    """The operator's view of one provider (its regions read here unless given)."""
    if regions is None:
        regions = provider_regions(session, provider)
    found, problem = capabilities(session, adapters, provider)
    assigned = {
        row.slot: (row.organization_id, row.project_id)
        for row in session.scalars(select(ProviderSlot).where(ProviderSlot.provider_id == provider.id))
    }
    slots = [
        SlotView(
            str(slot["name"]),
            str(slot["access_key_id"]),
            str(slot["secret_id"]),
            *assigned.get(str(slot["name"]), (None, None)),
        )
        for slot in provider.settings.get("slots", [])
    ]
    return ProviderView(provider, regions, found, problem, slots)


def views(session: Session, adapters: Adapters) -> list[ProviderView]:
    return [view(session, adapters, p, regions) for p, regions in providers(session)]


def regions(
    session: Session, adapters: Adapters, provider: str | None = None, family: str | None = None
) -> list[RegionChoice]:
    """Every enabled region of every enabled provider, ordered for a picker.

    The order is the provider's display name, then the country (regions without one last),
    then the region's name and code; sorting here keeps it the same on every database.
    """
    statement = (
        select(Provider, Region)
        .join(Region, Region.provider_id == Provider.id)
        .where(Provider.enabled.is_(True), Region.enabled.is_(True))
    )
    if provider is not None:
        statement = statement.where(Provider.name == provider)
    if family is not None:
        statement = statement.where(Provider.family == family)
    offered: dict[str, Capabilities | None] = {}
    choices = []
    for p, r in session.execute(statement).all():
        if p.id not in offered:
            offered[p.id] = capabilities(session, adapters, p)[0]
        choices.append(
            RegionChoice(
                p.name,
                p.display_name,
                p.family,
                r.code,
                r.name,
                r.country,
                r.endpoint,
                offered[p.id],
            )
        )
    choices.sort(
        key=lambda c: (
            c.provider_name.casefold(),
            c.provider,
            c.country is None,
            c.country or "",
            c.name.casefold(),
            c.code,
        )
    )
    return choices


def readiness(session: Session) -> dict[str, dict[str, str | None]]:
    """Each provider's last check for /readyz: ``ok``, ``failing`` or ``unchecked``, and when."""
    rows = session.execute(
        select(Provider.name, Provider.last_check_at, Provider.last_check_error).order_by(Provider.name)
    ).all()
    return {
        name: {
            "status": "unchecked" if at is None else "failing" if error is not None else "ok",
            "checked_at": at.isoformat().replace("+00:00", "Z") if at is not None else None,
        }
        for name, at, error in rows
    }
