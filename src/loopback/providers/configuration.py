"""Changing providers: create, update, apply and enable from the API and the providers file, and the
embedded storage's ``ensure_provider``.

Each compares before it writes: giving what is already there changes no row, moves no
``updated_at`` and re-encrypts no secret (stored secrets are decrypted and compared). Every secret
goes to the secret store; the provider row and its ``settings`` keep references only
(``secret_refs``, each slot's ``secret_id``), and no answer, log line or error carries a secret.
A change moves ``updated_at``, which is how the adapter cache knows to build again.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loopback.kit.clock import utcnow
from loopback.kit.errors import Conflict, FieldProblem, Invalid
from loopback.kit.ids import new_id
from loopback.kit.secrets import Secret, SecretStore
from loopback.providers import registry
from loopback.providers.adapters import Adapters, scrub, setup_secrets
from loopback.providers.base import Capabilities, ProviderError, RegionSpec
from loopback.providers.models import Provider, Region
from loopback.providers.region_config import EndpointChanged, fixed_regions, listed_regions
from loopback.providers.schemas import (
    KEY_PATTERN,
    RESERVED_SETTINGS,
    PathProblem,
    ProviderCreate,
    ProviderUpdate,
    SlotIn,
    settings_problems,
)

log = logging.getLogger(__name__)

RESERVED = frozenset(RESERVED_SETTINGS)


class Configuration:
    """What the operator changes about providers; secrets through ``secrets``, never in a row."""

    def __init__(self, secrets: SecretStore, adapters: Adapters) -> None:
        self._secrets = secrets
        self._adapters = adapters
        self._endpoint_listeners: list[EndpointChanged] = []

    def when_endpoint_changes(self, listener: EndpointChanged) -> None:
        """Call ``listener(session, region_id, endpoint)`` in the transaction that moves a region."""
        self._endpoint_listeners.append(listener)

    def create(self, session: Session, spec: ProviderCreate) -> Provider:
        """A new provider with its secrets stored and its regions; 409 when the name is taken."""
        if spec.family not in registry.FAMILIES:
            families = ", ".join(registry.FAMILIES)
            raise Invalid([PathProblem("family", f"unknown family {spec.family!r}; one of {families}")])
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
                    PathProblem(
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
        if settings and any(provider.settings.get(key) != value for key, value in settings.items()):
            _write_settings(provider, {**provider.settings, **settings})
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
            problems += [PathProblem(where, detail) for where, detail in settings_problems(patch.settings)]
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
                PathProblem("access_key_id", "family s3 needs the service key: access_key_id and secret")
            )
        if problems:
            raise Invalid(problems)
        _write_settings(provider, settings)
        session.flush()

        capabilities, builtin = self._probe(session, provider)
        listeners = self._endpoint_listeners
        if capabilities.regions_fixed:
            changed += fixed_regions(
                session, provider, settings, patch.regions or [], builtin, problems, listeners
            )
        else:
            changed += listed_regions(session, provider, patch.regions or [], problems, listeners)
        if problems:
            raise Invalid(problems)
        _write_settings(provider, settings)
        if changed:
            provider.updated_at = utcnow()  # cached adapters compare this stamp and rebuild
        session.flush()
        return changed

    def _service_key(
        self,
        provider: Provider,
        patch: ProviderCreate | ProviderUpdate,
        session: Session,
        problems: list[FieldProblem],
    ) -> list[str]:
        key, secret = patch.access_key_id, patch.secret_access_key
        if key is not None and secret is None:
            problems.append(PathProblem("secret_access_key", "give it with access_key_id: a key is a pair"))
        elif secret is not None and key is None:
            problems.append(PathProblem("access_key_id", "give it with secret_access_key: a key is a pair"))
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
        """The family's named secrets (``secrets.api_token`` ...), stored; ``settings`` keeps their refs."""
        refs: dict[str, str] = dict(settings.get("secret_refs", {}))
        changed = []
        for name, secret in given.items():
            if not re.match(KEY_PATTERN, name):
                problems.append(PathProblem(f"secrets.{name}", "lowercase letters, digits and underscores"))
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
        """Operator-linked keys (Hetzner's), each secret stored; ``settings["slots"]`` keeps refs."""
        if given is None:
            return []
        slots: list[dict[str, str]] = [dict(slot) for slot in settings.get("slots", [])]
        by_name = {slot["name"]: slot for slot in slots}
        seen: set[str] = set()
        changed = []
        for index, slot in enumerate(given):
            if slot.name in seen:
                problems.append(PathProblem(f"slots[{index}].name", f"slot {slot.name!r} is given twice"))
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
        setup = self._adapters.setup(session, provider)
        pristine = {k: v for k, v in setup.settings.items() if k != "endpoints"}
        try:
            adapter = registry.build_provider(dataclasses.replace(setup, settings=pristine, regions=()))
            capabilities = adapter.capabilities()
            builtin = adapter.regions() if capabilities.regions_fixed else []
        except (ValueError, TypeError, KeyError, ProviderError) as error:
            detail = scrub(str(error), setup_secrets(setup))
            raise Invalid(
                [PathProblem("family", f"family {provider.family} refuses this: {detail}")]
            ) from None
        return capabilities, builtin


def _write_settings(provider: Provider, settings: dict[str, Any]) -> None:
    if settings != provider.settings:
        provider.settings = copy.deepcopy(settings)  # a new value: JSON columns see no in-place change
