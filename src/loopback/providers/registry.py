"""Which module builds a provider of each family: a new family is a new module plus one line here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loopback.providers.base import RegionSpec, StorageProvider
from loopback.providers.s3 import S3Provider, S3ProviderConfig


@dataclass(frozen=True)
class SlotKey:
    """An operator-linked key (a Hetzner project's S3 key), assigned to one tenant at a time."""

    name: str
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"SlotKey(name={self.name!r}, access_key_id={self.access_key_id!r})"


@dataclass(frozen=True)
class ProviderSetup:
    """A provider record with its secrets decrypted, handed to a family's builder.

    ``settings`` is the family's own configuration; references to the secret store in it
    (``settings["secret_refs"]`` by name, ``settings["slots"][i]["secret_id"]``) arrive decrypted
    as ``secrets`` and ``slots``. None of it is ever logged or returned.
    """

    name: str
    family: str
    settings: dict[str, Any]
    regions: tuple[RegionSpec, ...]
    access_key_id: str | None
    secret_access_key: str | None
    secrets: dict[str, str] = field(default_factory=dict)
    slots: tuple[SlotKey, ...] = ()

    def __repr__(self) -> str:
        return f"ProviderSetup(name={self.name!r}, family={self.family!r})"


def _build_s3(setup: ProviderSetup) -> StorageProvider:
    if not setup.access_key_id or not setup.secret_access_key:
        raise ValueError(f"provider {setup.name} has no service credentials")
    iam_endpoint = setup.settings.get("iam_endpoint")
    return S3Provider(
        S3ProviderConfig(
            name=setup.name,
            regions=setup.regions,
            access_key_id=setup.access_key_id,
            secret_access_key=setup.secret_access_key,
            iam_endpoint=str(iam_endpoint) if iam_endpoint else None,
        )
    )


def _build_ionos(setup: ProviderSetup) -> StorageProvider:
    from loopback.providers import ionos

    return ionos.build(setup)


def _build_hetzner(setup: ProviderSetup) -> StorageProvider:
    from loopback.providers import hetzner

    return hetzner.build(setup)


FAMILIES: dict[str, Callable[[ProviderSetup], StorageProvider]] = {
    "s3": _build_s3,
    "ionos": _build_ionos,
    "hetzner": _build_hetzner,
}


def build_provider(setup: ProviderSetup) -> StorageProvider:
    try:
        builder = FAMILIES[setup.family]
    except KeyError:
        raise ValueError(f"provider {setup.name} has unknown family {setup.family!r}") from None
    return builder(setup)
