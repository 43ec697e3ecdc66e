"""Provider and region shapes of API v3: the tenants' region picker and the operator's configuration.

The operator's input (``ProviderCreate``, ``ProviderUpdate``) is also what one entry of the
providers file (``LOOPBACK_PROVIDERS_FILE``) holds. Secrets arrive as ``SecretStr`` so no repr or
log line shows them; they leave only as a reference into the secret store beside a masked key id.
Fields inside lists are named with their index, ``regions[1].endpoint``, in every problem.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, JsonValue, SecretStr, field_validator

from loopback.kit.errors import FieldProblem
from loopback.providers import registry
from loopback.providers.base import Capabilities

NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
REGION_CODE_PATTERN = r"^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$"
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"
# Kept by Loopback inside ``settings``; set through ``secrets``, ``slots`` and ``regions`` instead.
RESERVED_SETTINGS = {"secret_refs": "secrets", "slots": "slots", "endpoints": "regions[].endpoint"}
ISOLATION_MODES = ("project", "organization")
# The built-in families, for the document; the configuration checks the registry itself.
FAMILY_NAMES: list[JsonValue] = list(registry.FAMILIES)


def mask(key: str | None) -> str | None:
    """A key id as every answer shows it: its first four characters and an ellipsis."""
    if not key:
        return None
    return f"{key[:4]}…" if len(key) > 4 else "…"


def field_path(location: Sequence[int | str]) -> str:
    """``("regions", 1, "endpoint")`` as ``regions[1].endpoint``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


@dataclass(frozen=True)
class PathProblem(FieldProblem):
    """A problem of a field named with list indices, whose JSON pointer follows them."""

    def as_member(self) -> dict[str, str]:
        parts = [p for p in re.split(r"\.|\[(\d+)\]", self.field) if p]
        return {"field": self.field, "pointer": "#/" + "/".join(parts), "detail": self.detail}


def endpoint_url(value: str) -> str:
    """An S3 or API endpoint: http(s), a host, no credentials, query or fragment; no trailing slash."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an http:// or https:// URL with a host, such as https://s3.example.com")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; give keys in their own fields")
    if parts.query or parts.fragment:
        raise ValueError("must have no query or fragment")
    return value.strip().rstrip("/")


def settings_problems(settings: dict[str, Any], prefix: str = "settings") -> list[tuple[str, str]]:
    """What is wrong with the non-secret settings a family reads, as ``(field, detail)`` pairs."""
    problems: list[tuple[str, str]] = []
    for key, value in settings.items():
        where = f"{prefix}.{key}"
        if key in RESERVED_SETTINGS:
            problems.append((where, f"kept by Loopback; set it through `{RESERVED_SETTINGS[key]}`"))
        elif not re.match(KEY_PATTERN, key):
            problems.append((where, "a setting's name is lowercase letters, digits and underscores"))
        elif value is None:
            continue
        elif key == "isolation" and value not in ISOLATION_MODES:
            problems.append((where, f"one of {', '.join(ISOLATION_MODES)}"))
        elif key.endswith(("_url", "_endpoint")):
            try:
                endpoint_url(value if isinstance(value, str) else "")
            except ValueError as error:
                problems.append((where, str(error)))
    return problems


# --- the operator's input ------------------------------------------------------------------------


class RegionIn(BaseModel):
    """A region of a provider. For families with built-in regions (ionos, hetzner) only ``code``,
    ``enabled``, ``country`` and ``endpoint`` (an override; null drops it) may be given."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=63, pattern=REGION_CODE_PATTERN, description="e.g. eu-central-1")
    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="display name for pickers"
    )
    endpoint: str | None = Field(default=None, max_length=500, description="the S3 endpoint URL")
    country: str | None = Field(default=None, pattern=COUNTRY_PATTERN, description="ISO 3166-1 alpha-2")
    enabled: bool | None = Field(
        default=None, strict=True, description="new buckets may go here; true when new"
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return None if value is None else endpoint_url(value)


class SlotIn(BaseModel):
    """A key linked by the operator (a Hetzner project's S3 key), given to one tenant at a time."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=63, pattern=NAME_PATTERN)
    access_key_id: str = Field(min_length=1, max_length=128)
    secret_access_key: SecretStr = Field(min_length=1, max_length=1000)


class ProviderFields(BaseModel):
    """What create and update share; see ``ProviderCreate`` for each field."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    enabled: bool | None = Field(default=None, strict=True, description="false: takes no new buckets")
    access_key_id: str | None = Field(
        default=None, min_length=1, max_length=128, description="the service S3 key's id"
    )
    secret_access_key: SecretStr | None = Field(
        default=None, min_length=1, max_length=1000, description="the service S3 key's secret"
    )
    slots: list[SlotIn] | None = Field(
        default=None, description="keys linked per tenant (hetzner); matched by name, added or rotated"
    )
    settings: dict[str, Any] | None = Field(
        default=None,
        description="the family's non-secret settings (iam_endpoint, isolation, management_url, ...); "
        "merged into what is there, a null value removes a setting",
    )
    regions: list[RegionIn] | None = Field(
        default=None, description="matched by code; regions left out stay as they are"
    )


class ProviderCreate(ProviderFields):
    """A new provider. Secrets go to the secret store; answers show a reference and a masked id."""

    name: str = Field(max_length=63, pattern=NAME_PATTERN, description="used by tenants to pick it")
    family: str = Field(
        max_length=20, description="s3, ionos or hetzner", json_schema_extra={"enum": FAMILY_NAMES}
    )
    secrets: dict[str, SecretStr] | None = Field(
        default=None, description="named secrets the family needs, e.g. ionos `api_token`"
    )


class ProviderUpdate(ProviderFields):
    """Changes to a provider; a field left out stays as it is, and giving what is there changes nothing."""

    secrets: dict[str, SecretStr | None] | None = Field(
        default=None, description="named secrets to set or rotate; null removes one"
    )


class ProviderTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: str | None = Field(
        default=None, description="the region to try; the first enabled one when left out"
    )


# --- answers -------------------------------------------------------------------------------------


class CapabilitiesOut(BaseModel):
    per_bucket_credentials: bool = Field(description="each credential reaches one bucket only")
    native_usage_stats: bool = Field(description="usage comes from the provider, not from listing")
    regions_fixed: bool = Field(description="the family's regions are built in")
    access_modes: list[str] = Field(description="the key modes this family enforces")
    prefixes: bool = Field(description="a grant can be held to keys under a prefix")
    max_buckets_per_key: int = Field(description="how many buckets one key may be granted")
    revocable: bool = Field(description="keys are revoked at the provider, so they can expire and rotate")
    notes: list[str]

    @classmethod
    def of(cls, capabilities: Capabilities | None) -> CapabilitiesOut | None:
        if capabilities is None:
            return None
        return cls(
            per_bucket_credentials=capabilities.per_bucket_credentials,
            native_usage_stats=capabilities.native_usage_stats,
            regions_fixed=capabilities.regions_fixed,
            access_modes=[mode.value for mode in capabilities.access_modes],
            prefixes=capabilities.prefixes,
            max_buckets_per_key=capabilities.max_buckets_per_key,
            revocable=capabilities.revocable,
            notes=list(capabilities.notes),
        )


class RegionOut(BaseModel):
    """A region a new bucket can go to, as a picker shows it."""

    provider: str
    provider_name: str = Field(description="the provider's display name")
    family: str
    code: str
    name: str
    country: str | None = Field(description="ISO 3166-1 alpha-2")
    endpoint: str
    capabilities: CapabilitiesOut | None = Field(description="null when the provider cannot be built now")


class RegionList(BaseModel):
    regions: list[RegionOut]


class OperatorRegionOut(BaseModel):
    code: str
    name: str
    endpoint: str
    country: str | None
    enabled: bool
    endpoint_overridden: bool = Field(description="the operator replaced the family's built-in endpoint")


class SlotOut(BaseModel):
    name: str
    access_key_id: str | None = Field(description="masked: the first four characters")
    secret_ref: str = Field(description="the secret's id in the secret store")
    organization_id: str | None = Field(description="the tenant it is assigned to; null while free")
    project_id: str | None


class CheckOut(BaseModel):
    status: Literal["ok", "failing", "unchecked"]
    checked_at: datetime | None
    error: str | None


class ProviderOut(BaseModel):
    """A provider as the operator sees it; keys show as masked ids and secrets as references."""

    name: str
    family: str
    display_name: str
    enabled: bool
    access_key_id: str | None = Field(description="masked: the first four characters")
    secret_ref: str | None = Field(description="the service secret's id in the secret store")
    secrets: dict[str, str] = Field(description="named secrets, as references into the secret store")
    slots: list[SlotOut]
    settings: dict[str, Any]
    capabilities: CapabilitiesOut | None
    problem: str | None = Field(description="why the provider cannot be built now, if it cannot")
    regions: list[OperatorRegionOut]
    last_check: CheckOut
    created_at: datetime
    updated_at: datetime


class ProviderList(BaseModel):
    providers: list[ProviderOut]


class CheckStepOut(BaseModel):
    step: str
    ok: bool
    ms: float = Field(description="how long the step took, in milliseconds")
    detail: str | None


class ProviderTestOut(BaseModel):
    provider: str
    region: str
    ok: bool
    checked_at: datetime
    total_ms: float
    steps: list[CheckStepOut]
    error: str | None = Field(description="the first failing step and why")
