"""Roles and the one table that says which role may do what; docs/permissions.md is made from it.

Every route names one permission (``requires("buckets.read")``); the permission's scope says what
the caller must belong to: ``user`` needs a personal token, ``organization`` a role in the
organization in the path, ``project`` a role there and, for a project token, that very project,
and ``installation`` the operator. A token's role cap narrows its user's role, never widens it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"
    BILLING = "billing"
    OPERATOR = "operator"


TENANT_ROLES = (Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER, Role.BILLING)


class Scope(enum.StrEnum):
    AUTHENTICATED = "authenticated"
    USER = "user"
    ORGANIZATION = "organization"
    PROJECT = "project"
    INSTALLATION = "installation"


@dataclass(frozen=True)
class Permission:
    name: str
    scope: Scope
    roles: frozenset[Role]
    description: str


_ALL = frozenset(TENANT_ROLES)
_READERS = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER})
_WRITERS = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER})
_ADMINS = frozenset({Role.OWNER, Role.ADMIN})
_OWNERS = frozenset({Role.OWNER})
_OPERATOR = frozenset({Role.OPERATOR})


def _table(*permissions: Permission) -> dict[str, Permission]:
    return {permission.name: permission for permission in permissions}


P = Permission
S = Scope
PERMISSIONS: dict[str, Permission] = _table(
    P("regions.read", S.AUTHENTICATED, _ALL | _OPERATOR, "list the regions buckets can be created in"),
    P(
        "token.read",
        S.AUTHENTICATED,
        _ALL | _OPERATOR,
        "show the calling token: kind, cap, expiry, and a project token's organization and project",
    ),
    P("user.read", S.USER, _ALL | _OPERATOR, "show who the token belongs to and their organizations"),
    P("organizations.create", S.USER, _ALL | _OPERATOR, "create an organization and become its owner"),
    P("tokens.personal", S.USER, _ALL | _OPERATOR, "create, list and revoke your own personal tokens"),
    P("organization.read", S.ORGANIZATION, _ALL, "show the organization"),
    P("organization.rename", S.ORGANIZATION, _ADMINS, "rename the organization"),
    P("organization.delete", S.ORGANIZATION, _OWNERS, "delete the organization once it has no live buckets"),
    P("usage.read", S.ORGANIZATION, _ALL, "read the organization's usage per project"),
    P("billing.read", S.ORGANIZATION, _ADMINS | {Role.BILLING}, "read usage over a period: GB-hours, peaks"),
    P("quotas.read", S.ORGANIZATION, _ALL, "show the organization's quotas and its projects' use"),
    P("members.read", S.ORGANIZATION, _ALL, "list members and their roles"),
    P("members.manage", S.ORGANIZATION, _ADMINS, "add members, change and remove roles below owner"),
    P("members.owners", S.ORGANIZATION, _OWNERS, "grant, change or remove the owner role"),
    P("projects.list", S.ORGANIZATION, _ALL, "list the organization's projects"),
    P("projects.create", S.ORGANIZATION, _ADMINS, "create a project"),
    P("tokens.read", S.ORGANIZATION, _ADMINS, "list the organization's project tokens"),
    P("tokens.manage", S.ORGANIZATION, _ADMINS, "create and revoke project tokens, up to your own role"),
    P("audit.read", S.ORGANIZATION, _ADMINS, "page through the organization's audit events"),
    P("webhooks.read", S.ORGANIZATION, _ADMINS, "list the organization's webhooks and their delivery log"),
    P(
        "webhooks.manage",
        S.ORGANIZATION,
        _ADMINS,
        "register, change and delete webhooks, rotate their signing secret, send a test event",
    ),
    P("projects.read", S.PROJECT, _ALL, "show a project"),
    P("projects.manage", S.PROJECT, _ADMINS, "rename a project, delete it once it has no live buckets"),
    P("project_quotas.read", S.PROJECT, _ALL, "show the project's quotas as they apply, and its use"),
    P(
        "project_quotas.manage",
        S.PROJECT,
        _ADMINS,
        "set the project's quotas, never above the organization's",
    ),
    P("buckets.read", S.PROJECT, _READERS, "list and show buckets with status, endpoint and usage"),
    P("buckets.create", S.PROJECT, _WRITERS, "create a bucket"),
    P("buckets.delete", S.PROJECT, _WRITERS, "delete a bucket"),
    P("usage.refresh", S.PROJECT, _WRITERS, "queue a usage sync of a bucket"),
    P("credentials.read", S.PROJECT, _WRITERS, "list a bucket's credentials (never their secrets)"),
    P("credentials.issue", S.PROJECT, _WRITERS, "issue a credential for a bucket"),
    P("credentials.revoke", S.PROJECT, _WRITERS, "revoke a credential"),
    P(
        "quotas.manage",
        S.INSTALLATION,
        _OPERATOR,
        "set an organization's quotas: buckets per project, bytes and objects per bucket and project",
    ),
    P("providers.read", S.INSTALLATION, _OPERATOR, "list providers and their regions, enabled or not"),
    P(
        "providers.manage",
        S.INSTALLATION,
        _OPERATOR,
        "configure providers: create, change, rotate keys, enable, disable, test",
    ),
)
del P, S


def permission(name: str) -> Permission:
    return PERMISSIONS[name]


def allows(role: str, name: str) -> bool:
    """The table itself: may ``role`` do ``name``?"""
    return Role(role) in PERMISSIONS[name].roles


def granted(role: str) -> frozenset[str]:
    """Every permission ``role`` holds in an organization."""
    return frozenset(name for name, entry in PERMISSIONS.items() if Role(role) in entry.roles)


def within(cap: str, role: str) -> bool:
    """A token capped at ``cap`` asks for nothing ``role`` does not have."""
    return granted(cap) <= granted(role)


def allows_capped(role: str, cap: str | None, name: str) -> bool:
    """A member's role narrowed by a token's cap: both must allow ``name``."""
    return allows(role, name) and (cap is None or allows(cap, name))


def markdown() -> str:
    """docs/permissions.md: the table above, rendered; a test keeps the file equal to this."""
    roles = [*TENANT_ROLES, Role.OPERATOR]
    lines = [
        "# Permissions",
        "",
        "Generated from `src/loopback/tenancy/permissions.py` by `loopback permissions`; do not edit.",
        "",
        "Every route of the API names one permission. Its scope says what the caller must belong to:",
        "",
        "- `authenticated`: any valid token;",
        "- `user`: a personal token (a project token answers 403);",
        "- `organization`: a role in the organization of the path (none: 404; a project token: 403);",
        "- `project`: a role in that organization and, for a project token, that very project (404 else);",
        "- `installation`: the operator, who reads no tenant's buckets through tenant routes.",
        "",
        "A token's role cap narrows its user's role: both must allow the permission. A project token",
        "acts with its cap inside its project only. A role that may not act answers 403 naming the",
        "permission; anything outside the caller's reach answers 404 whether or not it exists.",
        "",
        "| permission | scope | " + " | ".join(roles) + " | what it allows |",
        "| --- | --- | " + " | ".join("---" for _ in roles) + " | --- |",
    ]
    for entry in PERMISSIONS.values():
        marks = " | ".join("yes" if role in entry.roles else "" for role in roles)
        lines.append(f"| `{entry.name}` | {entry.scope} | {marks} | {entry.description} |")
    return "\n".join(lines) + "\n"
