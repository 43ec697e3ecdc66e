"""Tenancy shapes of API v3: organizations, projects, members, tokens and audit events."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue
from pydantic_core import PydanticCustomError

from loopback.tenancy.models import ApiToken, AuditEvent, Organization, Project
from loopback.tenancy.permissions import TENANT_ROLES
from loopback.tenancy.rules import slug_problems
from loopback.tenancy.service import MemberView
from loopback.tenancy.tokens import CallingToken

# The rules of tenancy.rules, written into the OpenAPI document so clients see them up front.
SLUG_PATTERN = r"^[a-z](?:-?[a-z0-9])+$"
EMAIL_PATTERN = r"^\s*[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+\s*$"
ROLES: list[JsonValue] = [role.value for role in TENANT_ROLES]
ROLE_DESCRIPTION = "owner, admin, member, viewer or billing"


def _whole_slug(value: str) -> str:
    # rules.SLUG ends in `$`, which lets "demo\n" through; a slug is checked whole here.
    if value.endswith("\n") or not re.fullmatch(SLUG_PATTERN, value):
        problems = slug_problems("slug", value) or slug_problems("slug", "")
        raise PydanticCustomError("slug", problems[0].detail)
    return value


Slug = Annotated[str, AfterValidator(_whole_slug)]
SLUG_FIELD = Field(
    max_length=63,
    description="3 to 63 lowercase letters, digits and single hyphens, starting with a letter and "
    "ending with a letter or digit; used in paths",
    json_schema_extra={"minLength": 3, "pattern": SLUG_PATTERN},
)
NAME_FIELD = Field(default=None, min_length=1, max_length=200, description="display name")


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: Slug = SLUG_FIELD
    name: str | None = NAME_FIELD


class Rename(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="the new display name")


class OrganizationOut(BaseModel):
    id: str
    slug: str
    name: str
    role: str = Field(description="your role in it")
    created_at: datetime
    deleted_at: datetime | None = None

    @classmethod
    def of(cls, organization: Organization, role: str) -> OrganizationOut:
        return cls(
            id=organization.id,
            slug=organization.slug,
            name=organization.name,
            role=role,
            created_at=organization.created_at,
            deleted_at=organization.deleted_at,
        )


class OrganizationList(BaseModel):
    organizations: list[OrganizationOut]


class UserOut(BaseModel):
    id: str
    email: str
    operator: bool
    token_id: str
    token_kind: str
    role_cap: str | None
    organizations: list[OrganizationOut]


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: Slug = SLUG_FIELD
    name: str | None = NAME_FIELD


class ProjectOut(BaseModel):
    id: str
    slug: str
    name: str
    organization: str
    created_at: datetime
    deleted_at: datetime | None = None

    @classmethod
    def of(cls, project: Project, organization: str) -> ProjectOut:
        return cls(
            id=project.id,
            slug=project.slug,
            name=project.name,
            organization=organization,
            created_at=project.created_at,
            deleted_at=project.deleted_at,
        )


class ProjectList(BaseModel):
    projects: list[ProjectOut]


class MemberAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(
        max_length=320,
        description="an email address such as ada@example.com",
        json_schema_extra={"pattern": EMAIL_PATTERN},
    )
    role: str = Field(max_length=20, description=ROLE_DESCRIPTION, json_schema_extra={"enum": ROLES})


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(max_length=20, description=ROLE_DESCRIPTION, json_schema_extra={"enum": ROLES})


class MemberOut(BaseModel):
    id: str = Field(description="the membership id; the email works in paths too")
    user_id: str
    email: str
    role: str
    created_at: datetime

    @classmethod
    def of(cls, view: MemberView) -> MemberOut:
        m = view.membership
        return cls(id=m.id, user_id=m.user_id, email=view.email, role=m.role, created_at=m.created_at)


class MemberList(BaseModel):
    members: list[MemberOut]


class PersonalTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    role_cap: str | None = Field(
        default=None,
        max_length=20,
        description="at most this role; " + ROLE_DESCRIPTION,
        json_schema_extra={"anyOf": [{"type": "string", "enum": ROLES}, {"type": "null"}]},
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, description="none: until revoked")


class ProjectTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    project: str = Field(max_length=63, description="the project slug the token acts in")
    role_cap: str = Field(
        max_length=20,
        description="the token's role in that project; " + ROLE_DESCRIPTION,
        json_schema_extra={"enum": ROLES},
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, description="none: until revoked")


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: str = Field(description="personal or project", json_schema_extra={"enum": ["personal", "project"]})
    prefix: str = Field(description="the first characters, to tell tokens apart")
    project: str | None = Field(default=None, description="a project token's project slug; null otherwise")
    role_cap: str | None = Field(description="at most this role; null: its user's role wherever it acts")
    created_at: datetime
    last_used_at: datetime | None = Field(description="its last request, kept to within a minute")
    expires_at: datetime | None = Field(description="null: until revoked")
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken, project: str | None = None) -> TokenOut:
        return cls.model_validate(token).model_copy(update={"project": project})


class IssuedTokenOut(TokenOut):
    token: str = Field(description="shown in this response only; store it now")


class TokenList(BaseModel):
    tokens: list[TokenOut]


class TokenUserOut(BaseModel):
    id: str
    email: str
    operator: bool = Field(description="the installation's operator")


class CallingTokenOut(TokenOut):
    """The token of the request itself; ``revoked_at`` is always null (a revoked token answers 401)."""

    organization: str | None = Field(
        description="a project token's organization slug, the only one it acts in; null for a personal token"
    )
    user: TokenUserOut | None = Field(
        description="whose a personal token is; null for a project token, which names no user"
    )

    @classmethod
    def of_calling(cls, calling: CallingToken) -> CallingTokenOut:
        user = calling.user
        return cls(
            **TokenOut.of(calling.token, calling.project).model_dump(),
            organization=calling.organization,
            user=TokenUserOut(id=user.user_id, email=user.email, operator=user.is_operator) if user else None,
        )


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    occurred_at: datetime
    actor_email: str | None = Field(description="the email of the user who acted")
    actor_user_id: str | None
    token_id: str | None
    organization_id: str | None
    project_id: str | None
    action: str
    target: str | None
    outcome: str = Field(description="succeeded or denied")
    detail: str | None
    request_id: str | None
    client_address: str | None

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls.model_validate(event)


class AuditEventList(BaseModel):
    events: list[AuditEventOut]
    next_cursor: str | None
