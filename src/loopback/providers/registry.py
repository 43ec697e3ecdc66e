"""Which module builds a provider of each family: a new family is a new module plus one line here.

Each family's module is imported when its first provider is built, never with this one: they bring
boto3 (about 8 MiB), and an API replica serving from its database alone never builds a provider.
"""

from __future__ import annotations

from collections.abc import Callable

from loopback.providers.base import ProviderSetup, StorageProvider


def _build_s3(setup: ProviderSetup) -> StorageProvider:
    from loopback.providers import s3_admin  # S3 and IAM, with the server's admin API if it names one

    return s3_admin.build(setup)


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
