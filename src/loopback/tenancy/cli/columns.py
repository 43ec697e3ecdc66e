"""How the tenancy answers read in a table: organizations, projects, members, tokens, audit events."""

from __future__ import annotations

from loopback.client.output import Column

ID = Column("id", "id")
CREATED = Column("created", "created_at")
SLUG = Column("slug", "slug")
ORGANIZATION = [SLUG, Column("name", "name"), Column("your role", "role"), ID, CREATED]
PROJECT = [SLUG, Column("name", "name"), Column("organization", "organization"), ID, CREATED]
MEMBER = [
    Column("email", "email"),
    Column("role", "role"),
    Column("membership id", "id"),
    Column("since", "created_at"),
]
TOKEN_LIFE = [
    Column("role cap", "role_cap"),
    Column("prefix", "prefix"),
    Column("last used", "last_used_at"),
    Column("expires", "expires_at"),
    Column("revoked", "revoked_at"),
]
PERSONAL_TOKEN = [ID, Column("name", "name"), *TOKEN_LIFE]
PROJECT_TOKEN = [ID, Column("name", "name"), Column("project", "project"), *TOKEN_LIFE]
TOKEN = [ID, Column("name", "name"), Column("kind", "kind"), Column("project", "project"), *TOKEN_LIFE]
AUDIT_EVENT = [
    Column("when", "occurred_at"),
    Column("actor", "actor_email"),
    Column("action", "action"),
    Column("outcome", "outcome"),
    Column("target", "target"),
    Column("detail", "detail"),
]
CALLING_PROJECT_TOKEN = [
    Column("organization", "organization"),
    Column("project", "project"),
    Column("token id", "id"),
    Column("token name", "name"),
    Column("token kind", "kind"),
    Column("role cap", "role_cap"),
    Column("expires", "expires_at"),
]
USER = [
    Column("email", "email"),
    Column("user id", "id"),
    Column("operator", "operator"),
    Column("token id", "token_id"),
    Column("token kind", "token_kind"),
    Column("role cap", "role_cap"),
]
