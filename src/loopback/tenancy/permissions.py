"""Roles and the one table that says which role may do what inside an organization."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"
    BILLING = "billing"


_READERS = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER})
_WRITERS = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER})

PERMISSIONS: dict[str, frozenset[Role]] = {
    "buckets.read": _READERS,
    "buckets.create": _WRITERS,
    "buckets.delete": _WRITERS,
    "credentials.read": _WRITERS,
    "credentials.issue": _WRITERS,
    "credentials.revoke": _WRITERS,
    "usage.refresh": _WRITERS,
}


def allows(role: str, permission: str) -> bool:
    return Role(role) in PERMISSIONS[permission]
