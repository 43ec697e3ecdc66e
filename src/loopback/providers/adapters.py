"""One adapter per provider record, built from its row, regions and secrets, rebuilt when it changes.

An adapter holds decrypted secrets; what it says about itself (errors, messages quoting the
provider) is scrubbed of them with ``scrub`` and ``setup_secrets`` before it reaches an answer
or a log line.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopback.kit.metrics import PROVIDER_CALL_DURATION, PROVIDER_CALLS, timed
from loopback.kit.secrets import SecretStore
from loopback.providers.base import ProviderError, ProviderSetup, RegionSpec, SlotKey, StorageProvider
from loopback.providers.models import Provider, Region
from loopback.providers.registry import build_provider

log = logging.getLogger(__name__)

REDACTED = "[redacted]"


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


class Adapters:
    """The cache of adapters, keyed by provider id and stamped with the record's ``updated_at``.

    Every change of configuration moves ``updated_at``; the next ``get`` sees the new stamp and
    builds the adapter again from what is stored now.
    """

    def __init__(self, secrets: SecretStore) -> None:
        self._secrets = secrets
        self._adapters: dict[str, tuple[datetime, StorageProvider]] = {}
        self._lock = threading.Lock()

    def setup(self, session: Session, provider: Provider) -> ProviderSetup:
        """What a family builds its adapter from: the record, its regions and its secrets, decrypted."""
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

    def get(self, session: Session, provider_id: str) -> StorageProvider:
        """The provider's adapter, built on first use and again after its record changed."""
        provider = session.get(Provider, provider_id)
        if provider is None:
            raise LookupError(f"provider {provider_id} does not exist")
        with self._lock:
            cached = self._adapters.get(provider_id)
            if cached is not None and cached[0] == provider.updated_at:
                return cached[1]
        adapter = instrument(build_provider(self.setup(session, provider)), provider.id, provider.family)
        with self._lock:
            self._adapters[provider_id] = (provider.updated_at, adapter)
        return adapter

    def known_secrets(self, session: Session, provider: Provider) -> list[str]:
        """The secrets of ``provider``'s setup, or none when even the setup cannot be read."""
        try:
            return setup_secrets(self.setup(session, provider))
        except Exception:
            return []


# The adapter's calls that reach the provider; the others (regions, capabilities ...) answer locally.
CALLS = (
    "create_bucket",
    "bucket_exists",
    "bucket_names",
    "object_count_hint",
    "empty_bucket",
    "delete_bucket",
    "issue_credential",
    "update_credential",
    "revoke_credential",
    "read_usage",
    "read_usages",
    "check",
)
_depth = threading.local()  # a call an adapter makes of its own calls is part of the outer one


def outcome_of(error: BaseException | None) -> str:
    """``ok``, ``transient`` or ``refused`` (a provider's answer), ``error`` (anything else)."""
    if error is None:
        return "ok"
    if isinstance(error, ProviderError):
        return "transient" if error.transient else "refused"
    return "error"


def instrument(adapter: StorageProvider, provider_id: str, family: str) -> StorageProvider:
    """Count and time every provider call of ``adapter`` (kit.metrics), the one place every family's
    calls pass: the wrappers are set on the instance, so it stays what it was to ``isinstance``."""
    for operation in CALLS:
        call = getattr(adapter, operation, None)
        if callable(call):
            try:
                setattr(adapter, operation, _recorded(call, provider_id, family, operation))
            except AttributeError:  # a frozen or slotted adapter: it works, its calls go uncounted
                log.warning("provider %s: %s calls are not counted", provider_id, operation)
    return adapter


def _recorded(call: Callable[..., Any], provider_id: str, family: str, operation: str) -> Callable[..., Any]:
    duration = PROVIDER_CALL_DURATION.labels(provider_id, family, operation)

    @functools.wraps(call)
    def recorded(*args: Any, **kwargs: Any) -> Any:
        depth = getattr(_depth, "value", 0)
        if depth:
            return call(*args, **kwargs)
        _depth.value = 1
        error: BaseException | None = None
        try:
            with timed() as elapsed:
                return call(*args, **kwargs)
        except BaseException as raised:
            error = raised
            raise
        finally:
            _depth.value = 0
            duration.observe(elapsed[0])
            PROVIDER_CALLS.labels(provider_id, family, operation, outcome_of(error)).inc()

    return recorded
