"""What a BucketClass and a BucketAccessClass may say to this driver, read and checked.

A BucketClass names where its buckets go: ``organization`` and ``project`` (slugs), ``provider``
and ``region`` (as ``GET /v3/regions`` lists them), and optionally ``deletionPolicy`` (``delete``,
the default, or ``retain``: deleting the claim then releases the record and keeps the bucket) and
the install link's ``catalogItem`` and ``release``. A BucketAccessClass (whose parameters COSI
requires, one at least) may name the ``organization`` its keys are issued in, refusing buckets of
any other, and ``expiresInDays`` (1 to 3650) after which Loopback revokes each key. A key nobody
reads is refused rather than ignored: a typo must not put a bucket somewhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from loopback.cosi.errors import invalid
from loopback.cosi.handles import Place

REQUIRED = ("organization", "project", "provider", "region")
OPTIONAL = ("deletionPolicy", "catalogItem", "release")
POLICIES = {"delete": "delete", "retain": "retain"}


@dataclass(frozen=True)
class Placement:
    """Where a BucketClass's buckets go, and how they leave."""

    place: Place
    provider: str
    region: str
    deletion_policy: str = "delete"
    catalog_item: str | None = None
    release: str | None = None


def _unknown(parameters: Mapping[str, str], known: tuple[str, ...], what: str) -> None:
    extra = sorted(set(parameters) - set(known))
    if extra:
        takes = ", ".join(known) if known else "no parameter"
        raise invalid(f"the {what}'s parameters {', '.join(extra)} mean nothing here; it takes {takes}")


def placement(parameters: Mapping[str, str]) -> Placement:
    """The BucketClass's parameters as a ``Placement``; INVALID_ARGUMENT names what is missing or wrong."""
    _unknown(parameters, REQUIRED + OPTIONAL, "BucketClass")
    missing = [key for key in REQUIRED if not parameters.get(key, "").strip()]
    if missing:
        raise invalid(f"the BucketClass's parameters must name {', '.join(missing)}")
    policy = parameters.get("deletionPolicy", "delete").strip().lower()
    if policy not in POLICIES:
        raise invalid(f"deletionPolicy {parameters['deletionPolicy']!r} is neither delete nor retain")
    return Placement(
        place=Place(parameters["organization"].strip(), parameters["project"].strip()),
        provider=parameters["provider"].strip(),
        region=parameters["region"].strip(),
        deletion_policy=POLICIES[policy],
        catalog_item=parameters.get("catalogItem") or None,
        release=parameters.get("release") or None,
    )


@dataclass(frozen=True)
class KeyOptions:
    """What a BucketAccessClass says of the keys it grants."""

    organization: str | None = None
    expires_in_days: int | None = None


ACCESS = ("organization", "expiresInDays")
MAX_DAYS = 3650


def access_parameters(parameters: Mapping[str, str]) -> KeyOptions:
    """The BucketAccessClass's parameters as ``KeyOptions``; INVALID_ARGUMENT for anything else."""
    _unknown(parameters, ACCESS, "BucketAccessClass")
    days = parameters.get("expiresInDays", "").strip()
    if days and not (days.isdigit() and 1 <= int(days) <= MAX_DAYS):
        raise invalid(f"expiresInDays {days!r} is not a whole number of days from 1 to {MAX_DAYS}")
    return KeyOptions(parameters.get("organization", "").strip() or None, int(days) if days else None)
