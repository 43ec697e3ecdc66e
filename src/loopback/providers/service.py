"""Providers and regions: what the operator configured, and adapters built from it on demand.

The operator changes a provider through ``create``, ``update`` and ``set_enabled`` (the API and the
providers file both end there). Each compares before it writes: giving what is already there
changes no row, moves no ``updated_at`` and re-encrypts no secret (stored secrets are decrypted
and compared). Every secret goes to the secret store; the provider row and its ``settings`` keep
references only, and no answer, log line or error carries a secret.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import logging
import re
import secrets as token_source
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loopback.kit.clock import utcnow
from loopback.kit.errors import Conflict, FieldProblem, Invalid, NotFound
from loopback.kit.ids import new_id
from loopback.kit.secrets import Secret, SecretStore
from loopback.providers import registry
from loopback.providers.base import (
    Capabilities,
    Grant,
    IssuedCredential,
    Placement,
    ProviderError,
    ProviderSetup,
    RegionSpec,
    SlotKey,
    StorageProvider,
)
from loopback.providers.models import Provider, ProviderSlot, Region
from loopback.providers.registry import build_provider
from loopback.providers.s3 import classify
from loopback.providers.schemas import (
    KEY_PATTERN,
    RESERVED_SETTINGS,
    PathProblem,
    ProviderCreate,
    ProviderUpdate,
    RegionIn,
    SlotIn,
    settings_problems,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

REDACTED = "[redacted]"
CHECK_PLACEMENT = ("installation", "provider-check")
CHECK_OBJECT = "loopback-check.txt"
CHECK_KEY_WAIT_SECONDS = 15.0  # a new key may take a moment to reach the S3 endpoints
KEY_NOT_YET = frozenset({"InvalidAccessKeyId", "AccessDenied"})
RESERVED = frozenset(RESERVED_SETTINGS)


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


@dataclass(frozen=True)
class CheckStep:
    step: str
    ok: bool
    ms: float
    detail: str | None = None


@dataclass
class CheckResult:
    """One round trip through a region: every step run, with how long it took."""

    provider: str
    region: str
    checked_at: datetime
    steps: list[CheckStep] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    @property
    def error(self) -> str | None:
        failed = next((step for step in self.steps if not step.ok), None)
        if failed is None:
            return None
        detail = failed.detail or "failed"
        # Provider messages usually name their action already ("create bucket: ...").
        return detail if detail.startswith(f"{failed.step}:") else f"{failed.step}: {detail}"

    @property
    def total_ms(self) -> float:
        return round(sum(step.ms for step in self.steps), 1)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret in ``secrets`` replaced, for messages that quote a provider."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def setup_secrets(setup: ProviderSetup) -> list[str]:
    """Every secret a provider's setup holds, to scrub from what its adapter says."""
    found = [setup.secret_access_key or "", *setup.secrets.values()]
    return [*found, *(slot.secret_access_key for slot in setup.slots)]


def built_in_countries(family: str) -> dict[str, str]:
    """Where a family's built-in regions are: its module's ``COUNTRIES`` (region code to ISO 3166-1
    alpha-2), until ``RegionSpec`` carries a country itself (read first, where it does)."""
    try:
        module = importlib.import_module(f"loopback.providers.{family}")
    except ImportError:
        return {}
    countries = getattr(module, "COUNTRIES", None)
    return {str(k): str(v) for k, v in countries.items()} if isinstance(countries, dict) else {}


def _problem(location: str, detail: str) -> FieldProblem:
    return PathProblem(location, detail)


EndpointChanged = Callable[[Session, str, str], None]


class ProviderService:
    """Reads and changes provider configuration; keeps one adapter per provider until its record changes."""

    def __init__(self, secrets: SecretStore) -> None:
        self._secrets = secrets
        self._adapters: dict[str, tuple[datetime, StorageProvider]] = {}
        self._lock = threading.Lock()
        self._endpoint_listeners: list[EndpointChanged] = []

    def when_endpoint_changes(self, listener: EndpointChanged) -> None:
        """Call ``listener(session, region_id, endpoint)`` in the transaction that moves a region."""
        self._endpoint_listeners.append(listener)

    # --- reading ---------------------------------------------------------------------------------

    def providers(self, session: Session) -> list[tuple[Provider, list[Region]]]:
        """Every provider with its regions, enabled or not, for the operator."""
        regions: dict[str, list[Region]] = {}
        for region in session.scalars(select(Region).order_by(Region.code)):
            regions.setdefault(region.provider_id, []).append(region)
        return [(p, regions.get(p.id, [])) for p in session.scalars(select(Provider).order_by(Provider.name))]

    def get(self, session: Session, name: str) -> Provider:
        provider = session.scalar(select(Provider).where(Provider.name == name))
        if provider is None:
            raise NotFound(f"no provider named {name!r}; `loopback providers list` shows them")
        return provider

    def views(self, session: Session) -> list[ProviderView]:
        return [self._view(session, p, regions) for p, regions in self.providers(session)]

    def view(self, session: Session, provider: Provider) -> ProviderView:
        regions = session.scalars(
            select(Region).where(Region.provider_id == provider.id).order_by(Region.code)
        ).all()
        return self._view(session, provider, list(regions))

    def _view(self, session: Session, provider: Provider, regions: list[Region]) -> ProviderView:
        capabilities, problem = self.capabilities(session, provider)
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
        return ProviderView(provider, regions, capabilities, problem, slots)

    def capabilities(self, session: Session, provider: Provider) -> tuple[Capabilities | None, str | None]:
        """What the provider's adapter can do, or why it cannot be built now (never with a secret in it)."""
        try:
            return self.adapter(session, provider.id).capabilities(), None
        except Exception as error:
            try:
                known = setup_secrets(self._setup(session, provider))
            except Exception:
                known = []
            reason = scrub(f"{type(error).__name__}: {error}", known)
            log.warning("provider %s cannot be built: %s", provider.name, reason)
            return None, reason

    def readiness(self, session: Session) -> dict[str, dict[str, str | None]]:
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

    def _setup(self, session: Session, provider: Provider) -> ProviderSetup:
        regions = session.scalars(
            select(Region).where(Region.provider_id == provider.id).order_by(Region.code)
        ).all()
        secret = self._secrets.get(session, provider.secret_id) if provider.secret_id else None
        settings = copy.deepcopy(dict(provider.settings))
        return ProviderSetup(
            name=provider.name,
            family=provider.family,
            settings=settings,
            regions=tuple(RegionSpec(r.code, r.name, r.endpoint) for r in regions),
            access_key_id=provider.access_key_id,
            secret_access_key=secret,
            secrets={
                name: self._secrets.get(session, secret_id)
                for name, secret_id in dict(settings.get("secret_refs", {})).items()
            },
            slots=tuple(
                SlotKey(
                    str(slot["name"]),
                    str(slot["access_key_id"]),
                    self._secrets.get(session, str(slot["secret_id"])),
                )
                for slot in settings.get("slots", [])
            ),
        )

    def adapter(self, session: Session, provider_id: str) -> StorageProvider:
        provider = session.get(Provider, provider_id)
        if provider is None:
            raise LookupError(f"provider {provider_id} does not exist")
        with self._lock:
            cached = self._adapters.get(provider_id)
            if cached is not None and cached[0] == provider.updated_at:
                return cached[1]
        adapter = build_provider(self._setup(session, provider))
        with self._lock:
            self._adapters[provider_id] = (provider.updated_at, adapter)
        return adapter

    def place(self, session: Session, provider: Provider, organization_id: str, project_id: str) -> Placement:
        """Where a tenant's new bucket goes at ``provider``: its key slot, assigned on first use.

        Slots isolate per project by default (setting ``isolation: organization`` shares one per
        organization). With none free, the bucket is refused with the reason, naming the field.
        """
        adapter = self.adapter(session, provider.id)
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

    def regions(
        self, session: Session, provider: str | None = None, family: str | None = None
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
        capabilities: dict[str, Capabilities | None] = {}
        choices = []
        for p, r in session.execute(statement).all():
            if p.id not in capabilities:
                capabilities[p.id] = self.capabilities(session, p)[0]
            choices.append(
                RegionChoice(
                    p.name,
                    p.display_name,
                    p.family,
                    r.code,
                    r.name,
                    r.country,
                    r.endpoint,
                    capabilities[p.id],
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

    # --- changing --------------------------------------------------------------------------------

    def create(self, session: Session, spec: ProviderCreate) -> Provider:
        """A new provider with its secrets stored and its regions; 409 when the name is taken."""
        if spec.family not in registry.FAMILIES:
            families = ", ".join(registry.FAMILIES)
            raise Invalid([_problem("family", f"unknown family {spec.family!r}; one of {families}")])
        taken = f"a provider named {spec.name!r} exists; change it with `loopback providers update`"
        if session.scalar(select(Provider.id).where(Provider.name == spec.name)) is not None:
            raise Conflict(taken)
        provider = Provider(
            id=new_id("prv"),
            name=spec.name,
            family=spec.family,
            display_name=spec.display_name or spec.name,
            enabled=True if spec.enabled is None else spec.enabled,
            settings={},
        )
        session.add(provider)
        try:
            session.flush()  # the unique name settles a race between two creates: one gets the 409
        except IntegrityError:
            raise Conflict(taken) from None
        self._change(session, provider, spec, creating=True)
        log.info("provider %s created (family %s)", provider.name, provider.family)
        return provider

    def update(self, session: Session, provider: Provider, patch: ProviderUpdate) -> list[str]:
        """Apply ``patch``; answers what changed, nothing when it gave what is there."""
        changed = self._change(session, provider, patch, creating=False)
        if changed:
            log.info("provider %s changed: %s", provider.name, ", ".join(changed))
        return changed

    def apply(self, session: Session, spec: ProviderCreate) -> tuple[Provider, list[str]]:
        """Create the provider or bring it to what ``spec`` states (the fields it gives, no others)."""
        provider = session.scalar(select(Provider).where(Provider.name == spec.name))
        if provider is None:
            return self.create(session, spec), ["created"]
        if provider.family != spec.family:
            raise Invalid(
                [
                    _problem(
                        "family",
                        f"provider {spec.name!r} is of family {provider.family!r}; a family cannot change",
                    )
                ]
            )
        given = {k: getattr(spec, k) for k in spec.model_fields_set if k in ProviderUpdate.model_fields}
        return provider, self.update(session, provider, ProviderUpdate(**given))

    def set_enabled(self, session: Session, provider: Provider, enabled: bool) -> bool:
        """Enable or disable; a disabled provider takes no new buckets, its existing ones keep working."""
        if provider.enabled == enabled:
            return False
        provider.enabled = enabled
        provider.updated_at = utcnow()
        session.flush()
        log.info("provider %s %s", provider.name, "enabled" if enabled else "disabled")
        return True

    def _change(
        self,
        session: Session,
        provider: Provider,
        patch: ProviderCreate | ProviderUpdate,
        *,
        creating: bool,
    ) -> list[str]:
        problems: list[FieldProblem] = []
        changed: list[str] = []
        settings: dict[str, Any] = copy.deepcopy(dict(provider.settings))

        if patch.display_name is not None and patch.display_name != provider.display_name:
            provider.display_name = patch.display_name
            changed.append("display_name")
        if patch.enabled is not None and patch.enabled != provider.enabled:
            provider.enabled = patch.enabled
            changed.append("enabled")
        changed += self._service_key(provider, patch, session, problems)
        if patch.settings is not None:
            problems += [_problem(where, detail) for where, detail in settings_problems(patch.settings)]
            for key, value in patch.settings.items():
                if value is None:
                    settings.pop(key, None)
                else:
                    settings[key] = value
            if {k: v for k, v in settings.items() if k not in RESERVED} != {
                k: v for k, v in provider.settings.items() if k not in RESERVED
            }:
                changed.append("settings")
        changed += self._named_secrets(session, settings, patch.secrets or {}, problems)
        changed += self._slots(session, settings, patch.slots, problems)
        no_key = patch.access_key_id is None and patch.secret_access_key is None
        if creating and no_key and provider.family == "s3":
            problems.append(
                _problem("access_key_id", "family s3 needs the service key: access_key_id and secret")
            )
        if problems:
            raise Invalid(problems)
        self._write_settings(provider, settings)
        session.flush()

        capabilities, builtin = self._probe(session, provider)
        if capabilities.regions_fixed:
            changed += self._fixed_regions(
                session, provider, settings, patch.regions or [], builtin, problems
            )
        else:
            changed += self._listed_regions(session, provider, patch.regions or [], problems)
        if problems:
            raise Invalid(problems)
        self._write_settings(provider, settings)
        if changed:
            provider.updated_at = utcnow()  # cached adapters compare this stamp and rebuild
        session.flush()
        return changed

    @staticmethod
    def _write_settings(provider: Provider, settings: dict[str, Any]) -> None:
        if settings != provider.settings:
            provider.settings = copy.deepcopy(settings)  # a new value: JSON columns see no in-place change

    def _service_key(
        self,
        provider: Provider,
        patch: ProviderCreate | ProviderUpdate,
        session: Session,
        problems: list[FieldProblem],
    ) -> list[str]:
        key, secret = patch.access_key_id, patch.secret_access_key
        if key is not None and secret is None:
            problems.append(_problem("secret_access_key", "give it with access_key_id: a key is a pair"))
        elif secret is not None and key is None:
            problems.append(_problem("access_key_id", "give it with secret_access_key: a key is a pair"))
        if key is None or secret is None:
            return []
        value = secret.get_secret_value()
        changed = provider.access_key_id != key
        provider.access_key_id = key
        if provider.secret_id is None:
            provider.secret_id = self._secrets.put(session, "provider", value)
            changed = True
        elif self._secrets.get(session, provider.secret_id) != value:
            self._secrets.replace(session, provider.secret_id, value)
            changed = True
        return ["credentials"] if changed else []

    def _named_secrets(
        self,
        session: Session,
        settings: dict[str, Any],
        given: dict[str, Any],
        problems: list[FieldProblem],
    ) -> list[str]:
        refs: dict[str, str] = dict(settings.get("secret_refs", {}))
        changed = []
        for name, secret in given.items():
            if not re.match(KEY_PATTERN, name):
                problems.append(_problem(f"secrets.{name}", "lowercase letters, digits and underscores"))
                continue
            if secret is None:
                if name in refs:
                    stored = session.get(Secret, refs.pop(name))
                    if stored is not None:
                        session.delete(stored)
                    changed.append(f"secret {name} removed")
                continue
            value = secret.get_secret_value()
            if name not in refs:
                refs[name] = self._secrets.put(session, "provider", value)
                changed.append(f"secret {name}")
            elif self._secrets.get(session, refs[name]) != value:
                self._secrets.replace(session, refs[name], value)
                changed.append(f"secret {name}")
        if refs:
            settings["secret_refs"] = refs
        else:
            settings.pop("secret_refs", None)
        return changed

    def _slots(
        self,
        session: Session,
        settings: dict[str, Any],
        given: list[SlotIn] | None,
        problems: list[FieldProblem],
    ) -> list[str]:
        if given is None:
            return []
        slots: list[dict[str, str]] = [dict(slot) for slot in settings.get("slots", [])]
        by_name = {slot["name"]: slot for slot in slots}
        seen: set[str] = set()
        changed = []
        for index, slot in enumerate(given):
            if slot.name in seen:
                problems.append(_problem(f"slots[{index}].name", f"slot {slot.name!r} is given twice"))
                continue
            seen.add(slot.name)
            value = slot.secret_access_key.get_secret_value()
            current = by_name.get(slot.name)
            if current is None:
                current = {
                    "name": slot.name,
                    "access_key_id": slot.access_key_id,
                    "secret_id": self._secrets.put(session, "provider-slot", value),
                }
                slots.append(current)
                by_name[slot.name] = current
                changed.append(f"slot {slot.name}")
                continue
            dirty = current["access_key_id"] != slot.access_key_id
            current["access_key_id"] = slot.access_key_id
            if self._secrets.get(session, current["secret_id"]) != value:
                self._secrets.replace(session, current["secret_id"], value)
                dirty = True
            if dirty:
                changed.append(f"slot {slot.name}")
        if slots:
            settings["slots"] = slots
        return changed

    def _probe(self, session: Session, provider: Provider) -> tuple[Capabilities, list[RegionSpec]]:
        """Build the adapter from what is about to be stored: the family says whether it takes this
        configuration, whether its regions are built in, and which (without operator overrides)."""
        setup = self._setup(session, provider)
        pristine = {k: v for k, v in setup.settings.items() if k != "endpoints"}
        try:
            adapter = build_provider(dataclasses.replace(setup, settings=pristine, regions=()))
            capabilities = adapter.capabilities()
            builtin = adapter.regions() if capabilities.regions_fixed else []
        except (ValueError, TypeError, KeyError, ProviderError) as error:
            detail = scrub(str(error), setup_secrets(setup))
            raise Invalid([_problem("family", f"family {provider.family} refuses this: {detail}")]) from None
        return capabilities, builtin

    def _fixed_regions(
        self,
        session: Session,
        provider: Provider,
        settings: dict[str, Any],
        entries: list[RegionIn],
        builtin: list[RegionSpec],
        problems: list[FieldProblem],
    ) -> list[str]:
        """Regions of a family that has them built in: every one gets a row; the operator enables,
        disables, sets a country or overrides an endpoint (kept in ``settings["endpoints"]``)."""
        offered = {spec.code: spec for spec in builtin}
        overrides: dict[str, str] = dict(settings.get("endpoints", {}))
        wanted: dict[str, RegionIn] = {}
        for index, entry in enumerate(entries):
            where = f"regions[{index}]"
            if entry.code in wanted:
                problems.append(_problem(f"{where}.code", f"region {entry.code!r} is given twice"))
                continue
            if entry.code not in offered:
                codes = ", ".join(sorted(offered))
                problems.append(
                    _problem(
                        f"{where}.code",
                        f"family {provider.family} has no region {entry.code!r}; it offers {codes}",
                    )
                )
                continue
            if entry.name is not None:
                problems.append(
                    _problem(f"{where}.name", f"the names of {provider.family}'s regions are built in")
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
        existing = {
            r.code: r for r in session.scalars(select(Region).where(Region.provider_id == provider.id))
        }
        countries = built_in_countries(provider.family)
        changed = []
        for spec in builtin:
            endpoint = overrides.get(spec.code, spec.endpoint)
            country: str | None = getattr(spec, "country", None) or countries.get(spec.code)
            row = existing.get(spec.code)
            if self._put_region(
                session, provider, row, spec.code, spec.name, endpoint, country, wanted.get(spec.code)
            ):
                changed.append(f"region {spec.code}")
        return changed

    def _listed_regions(
        self,
        session: Session,
        provider: Provider,
        entries: list[RegionIn],
        problems: list[FieldProblem],
    ) -> list[str]:
        """Regions the operator lists (family s3): a new code needs its name and endpoint. A provider
        may start with none; it offers nothing until one is added."""
        existing = {
            r.code: r for r in session.scalars(select(Region).where(Region.provider_id == provider.id))
        }
        seen: set[str] = set()
        accepted: list[tuple[Region | None, RegionIn, str, str]] = []
        for index, entry in enumerate(entries):
            where = f"regions[{index}]"
            if entry.code in seen:
                problems.append(_problem(f"{where}.code", f"region {entry.code!r} is given twice"))
                continue
            seen.add(entry.code)
            row = existing.get(entry.code)
            name = entry.name or (row.name if row else None)
            endpoint = entry.endpoint or (row.endpoint if row else None)
            if name is None:
                problems.append(_problem(f"{where}.name", "required for a new region"))
            if endpoint is None:
                detail = "required for a new region" if row is None else "a region needs an endpoint"
                problems.append(_problem(f"{where}.endpoint", detail))
            if name is not None and endpoint is not None:
                accepted.append((row, entry, name, endpoint))
        if problems:
            return []
        return [
            f"region {entry.code}"
            for row, entry, name, endpoint in accepted
            if self._put_region(session, provider, row, entry.code, name, endpoint, None, entry)
        ]

    def _put_region(
        self,
        session: Session,
        provider: Provider,
        row: Region | None,
        code: str,
        name: str,
        endpoint: str,
        country: str | None,
        entry: RegionIn | None,
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
            for listener in self._endpoint_listeners:  # buckets follow it: their domain, their rows
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

    # --- the round trip --------------------------------------------------------------------------

    def check(self, session: Session, provider: Provider, region_code: str | None = None) -> CheckResult:
        """Create a scratch bucket, issue a key for it, write, read and delete an object with that key,
        revoke the key and delete the bucket, timing each step; the outcome is kept on the provider.

        A step that fails stops the steps after it, except the clean-up of what was made. A disabled
        provider or region can be checked too: that is how an operator tries one before enabling it.
        """
        regions = session.scalars(
            select(Region).where(Region.provider_id == provider.id).order_by(Region.code)
        ).all()
        if region_code is not None:
            region = next((r for r in regions if r.code == region_code), None)
            if region is None:
                codes = ", ".join(r.code for r in regions) or "none"
                raise Invalid.field(
                    "region", f"provider {provider.name!r} has no region {region_code!r} ({codes})"
                )
        else:
            region = next((r for r in regions if r.enabled), regions[0] if regions else None)
            if region is None:
                raise Invalid.field("region", f"provider {provider.name!r} has no region to check")
        result = CheckResult(provider.name, region.code, utcnow())
        known: list[str] = []
        try:
            known = setup_secrets(self._setup(session, provider))
            adapter = self.adapter(session, provider.id)
        except Exception as error:
            detail = scrub(f"{type(error).__name__}: {error}", known)
            result.steps.append(CheckStep("build adapter", False, 0.0, detail))
            return self._record(session, provider, result)
        _RoundTrip(adapter, region, known, result).run()
        return self._record(session, provider, result)

    def _record(self, session: Session, provider: Provider, result: CheckResult) -> CheckResult:
        error = result.error[:1000] if result.error else None
        session.execute(  # the check is no change of configuration: updated_at stays
            update(Provider)
            .where(Provider.id == provider.id)
            .values(last_check_at=result.checked_at, last_check_error=error, updated_at=Provider.updated_at)
            .execution_options(synchronize_session=False)
        )
        session.refresh(provider)
        log.info(
            "provider %s checked in %s: %s (%.0f ms)",
            provider.name,
            result.region,
            "ok" if result.ok else error,
            result.total_ms,
        )
        return result

    # --- the embedded storage ---------------------------------------------------------------------

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


class _RoundTrip:
    """The steps of one ``ProviderService.check``, each timed, none letting a secret through."""

    def __init__(
        self, adapter: StorageProvider, region: Region, known: list[str], result: CheckResult
    ) -> None:
        self.adapter = adapter
        self.region = region
        self.known = known
        self.result = result
        token = token_source.token_hex(6)
        self.bucket = f"loopback-check-{token}"
        self.user = f"loopback-check-{token}"
        slots = adapter.slots()
        self.placement = Placement(*CHECK_PLACEMENT, slots[0] if slots else None)
        self.payload = f"loopback provider check {token}\n".encode()

    def step(self, name: str, action: Callable[[], T]) -> tuple[bool, T | None]:
        started = time.perf_counter()
        try:
            value = action()
        except Exception as error:
            ms = round((time.perf_counter() - started) * 1000, 1)
            self.result.steps.append(CheckStep(name, False, ms, self.describe(name, error)))
            return False, None
        ms = round((time.perf_counter() - started) * 1000, 1)
        self.result.steps.append(CheckStep(name, True, ms))
        return True, value

    def describe(self, name: str, error: Exception) -> str:
        if isinstance(error, ProviderError):
            text = error.message
        elif isinstance(error, ClientError | BotoCoreError):
            text = classify(error, name).message
        else:
            text = f"{type(error).__name__}: {error}"
        return scrub(text, self.known)

    def run(self) -> None:
        code = self.region.code
        if problems := self.adapter.name_problems(self.bucket, code):
            self.result.steps.append(CheckStep("create bucket", False, 0.0, "; ".join(problems)))
            return
        made, _ = self.step(
            "create bucket", lambda: self.adapter.create_bucket(self.bucket, code, self.placement)
        )
        if not made:
            return
        issued_ok, issued = self.step(
            "issue key",
            lambda: self.adapter.issue_credential(code, self.user, [Grant(self.bucket)], self.placement),
        )
        if issued_ok and issued is not None:
            self.known.append(issued.secret_access_key)
            s3 = self.client(issued)
            wrote, _ = self.step("write object", lambda: self.write(s3))
            if wrote:
                self.step("read object", lambda: self.read(s3))
                self.step("delete object", lambda: s3.delete_object(Bucket=self.bucket, Key=CHECK_OBJECT))
            self.step(
                "revoke key",
                lambda: self.adapter.revoke_credential(code, issued.provider_user, self.placement),
            )
        self.step("delete bucket", lambda: self.adapter.delete_bucket(self.bucket, code, self.placement))

    def client(self, issued: IssuedCredential) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.region.endpoint,
            region_name=self.region.code,
            aws_access_key_id=issued.access_key_id,
            aws_secret_access_key=issued.secret_access_key,
            config=Config(
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 2, "mode": "standard"},
                s3={"addressing_style": "path"},
                signature_version="s3v4",
            ),
        )

    def write(self, s3: Any) -> None:
        """Put the object; a key that the endpoint does not know yet is tried again for a while."""
        deadline = time.monotonic() + CHECK_KEY_WAIT_SECONDS
        while True:
            try:
                s3.put_object(Bucket=self.bucket, Key=CHECK_OBJECT, Body=self.payload)
                return
            except ClientError as error:
                code = str(error.response.get("Error", {}).get("Code", ""))
                if code not in KEY_NOT_YET or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def read(self, s3: Any) -> None:
        body = s3.get_object(Bucket=self.bucket, Key=CHECK_OBJECT)["Body"].read()
        if body != self.payload:
            raise ValueError(f"read {len(body)} bytes back that differ from the {len(self.payload)} written")
