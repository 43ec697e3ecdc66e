"""A provider's region rows as the operator configures them: built in for some families, listed for s3.

Part of changing a provider (``configuration``): each function compares before it writes, so
giving what is there changes no row, and a region whose endpoint moves tells the listeners (the
buckets domain follows it with its own rows) in the same transaction.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopback.kit.errors import FieldProblem
from loopback.kit.ids import new_id
from loopback.providers.base import RegionSpec
from loopback.providers.models import Provider, Region
from loopback.providers.schemas import PathProblem, RegionIn

EndpointChanged = Callable[[Session, str, str], None]


def built_in_countries(family: str) -> dict[str, str]:
    """Where a family's built-in regions are: its module's ``COUNTRIES`` (region code to ISO 3166-1
    alpha-2), until ``RegionSpec`` carries a country itself (read first, where it does)."""
    try:
        module = importlib.import_module(f"loopback.providers.{family}")
    except ImportError:
        return {}
    countries = getattr(module, "COUNTRIES", None)
    return {str(k): str(v) for k, v in countries.items()} if isinstance(countries, dict) else {}


def fixed_regions(
    session: Session,
    provider: Provider,
    settings: dict[str, Any],
    entries: list[RegionIn],
    builtin: list[RegionSpec],
    problems: list[FieldProblem],
    listeners: Sequence[EndpointChanged],
) -> list[str]:
    """Regions of a family that has them built in: every one gets a row; the operator enables,
    disables, sets a country or overrides an endpoint (kept in ``settings["endpoints"]``)."""
    offered = {spec.code: spec for spec in builtin}
    overrides: dict[str, str] = dict(settings.get("endpoints", {}))
    wanted: dict[str, RegionIn] = {}
    for index, entry in enumerate(entries):
        where = f"regions[{index}]"
        if entry.code in wanted:
            problems.append(PathProblem(f"{where}.code", f"region {entry.code!r} is given twice"))
            continue
        if entry.code not in offered:
            codes = ", ".join(sorted(offered))
            problems.append(
                PathProblem(
                    f"{where}.code",
                    f"family {provider.family} has no region {entry.code!r}; it offers {codes}",
                )
            )
            continue
        if entry.name is not None:
            problems.append(
                PathProblem(f"{where}.name", f"the names of {provider.family}'s regions are built in")
            )
        wanted[entry.code] = entry
        if "endpoint" in entry.model_fields_set:
            if entry.endpoint is None or entry.endpoint == offered[entry.code].endpoint.rstrip("/"):
                overrides.pop(entry.code, None)
            else:
                overrides[entry.code] = entry.endpoint
    if problems:
        return []
    if overrides:
        settings["endpoints"] = overrides
    else:
        settings.pop("endpoints", None)
    existing = {r.code: r for r in session.scalars(select(Region).where(Region.provider_id == provider.id))}
    countries = built_in_countries(provider.family)
    changed = []
    for spec in builtin:
        endpoint = overrides.get(spec.code, spec.endpoint)
        country: str | None = getattr(spec, "country", None) or countries.get(spec.code)
        row = existing.get(spec.code)
        if _put_region(
            session, provider, row, spec.code, spec.name, endpoint, country, wanted.get(spec.code), listeners
        ):
            changed.append(f"region {spec.code}")
    return changed


def listed_regions(
    session: Session,
    provider: Provider,
    entries: list[RegionIn],
    problems: list[FieldProblem],
    listeners: Sequence[EndpointChanged],
) -> list[str]:
    """Regions the operator lists (family s3): a new code needs its name and endpoint. A provider
    may start with none; it offers nothing until one is added."""
    existing = {r.code: r for r in session.scalars(select(Region).where(Region.provider_id == provider.id))}
    seen: set[str] = set()
    accepted: list[tuple[Region | None, RegionIn, str, str]] = []
    for index, entry in enumerate(entries):
        where = f"regions[{index}]"
        if entry.code in seen:
            problems.append(PathProblem(f"{where}.code", f"region {entry.code!r} is given twice"))
            continue
        seen.add(entry.code)
        row = existing.get(entry.code)
        name = entry.name or (row.name if row else None)
        endpoint = entry.endpoint or (row.endpoint if row else None)
        if name is None:
            problems.append(PathProblem(f"{where}.name", "required for a new region"))
        if endpoint is None:
            detail = "required for a new region" if row is None else "a region needs an endpoint"
            problems.append(PathProblem(f"{where}.endpoint", detail))
        if name is not None and endpoint is not None:
            accepted.append((row, entry, name, endpoint))
    if problems:
        return []
    return [
        f"region {entry.code}"
        for row, entry, name, endpoint in accepted
        if _put_region(session, provider, row, entry.code, name, endpoint, None, entry, listeners)
    ]


def _put_region(
    session: Session,
    provider: Provider,
    row: Region | None,
    code: str,
    name: str,
    endpoint: str,
    country: str | None,
    entry: RegionIn | None,
    listeners: Sequence[EndpointChanged],
) -> bool:
    given = entry.model_fields_set if entry is not None else set()
    if entry is not None and "country" in given:
        country = entry.country
    if row is None:
        session.add(
            Region(
                id=new_id("reg"),
                provider_id=provider.id,
                code=code,
                name=name,
                endpoint=endpoint,
                country=country,
                enabled=True if entry is None or entry.enabled is None else entry.enabled,
            )
        )
        return True
    dirty = False
    if row.name != name:
        row.name = name
        dirty = True
    if row.endpoint != endpoint:
        row.endpoint = endpoint
        for listener in listeners:  # buckets follow it: their domain, their rows
            listener(session, row.id, endpoint)
        dirty = True
    if country is not None or "country" in given:
        if row.country != country and ("country" in given or row.country is None):
            row.country = country
            dirty = True
    if entry is not None and entry.enabled is not None and row.enabled != entry.enabled:
        row.enabled = entry.enabled
        dirty = True
    return dirty
