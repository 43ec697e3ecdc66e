"""How a provider reads: a row of the list, its record with regions and key slots, the steps of a test.

Keys are shown masked as the API answers them; a secret never is.
"""

from __future__ import annotations

import json
from typing import Any

from loopback.client.http import ApiResponse
from loopback.client.output import Column, Printer, shown


def _check(value: Any) -> str:
    if not isinstance(value, dict) or value.get("status") in (None, "unchecked"):
        return "never tested"
    when = shown(value.get("checked_at"))
    if value.get("status") == "ok":
        return f"ok at {when}"
    return f"failing at {when}: {value.get('error')}"


def _capabilities(value: Any) -> str:
    if not isinstance(value, dict):
        return "-"
    names = [
        ("per_bucket_credentials", "per-bucket keys", "account-wide keys"),
        ("native_usage_stats", "native usage", "usage by listing"),
        ("regions_fixed", "built-in regions", "listed regions"),
    ]
    return ", ".join(yes if value.get(key) else no for key, yes, no in names)


def _regions(value: Any) -> str:
    regions = value if isinstance(value, list) else []
    enabled = sum(1 for r in regions if isinstance(r, dict) and r.get("enabled"))
    return f"{enabled} of {len(regions)} enabled"


NAME = Column("name", "name")
PROVIDER_ROW = [
    NAME,
    Column("family", "family"),
    Column("display name", "display_name"),
    Column("enabled", "enabled"),
    Column("key", "access_key_id"),
    Column("regions", "regions", format=_regions),
    Column("last check", "last_check", format=_check),
]
PROVIDER = [
    NAME,
    Column("family", "family"),
    Column("display name", "display_name"),
    Column("enabled", "enabled"),
    Column("service key", "access_key_id"),
    Column("service secret", "secret_ref"),
    Column(
        "secrets", "secrets", format=lambda v: ", ".join(f"{k}: {r}" for k, r in (v or {}).items()) or "-"
    ),
    Column("settings", "settings", format=lambda v: json.dumps(v, sort_keys=True) if v else "-"),
    Column("capabilities", "capabilities", format=_capabilities),
    Column("problem", "problem"),
    Column("last check", "last_check", format=_check),
    Column("updated", "updated_at"),
]
REGION = [
    Column("code", "code"),
    Column("name", "name"),
    Column("country", "country"),
    Column("enabled", "enabled"),
    Column("endpoint", "endpoint"),
    Column("overridden", "endpoint_overridden"),
]
SLOT = [
    Column("slot", "name"),
    Column("key", "access_key_id"),
    Column("secret", "secret_ref"),
    Column("organization", "organization_id"),
    Column("project", "project_id"),
]
STEP = [
    Column("step", "step"),
    Column("ok", "ok"),
    Column("ms", "ms", format=lambda v: f"{v:.1f}" if isinstance(v, int | float) else "-"),
    Column("detail", "detail"),
]


def provider(show: Printer, answer: ApiResponse) -> None:
    """One provider the API answered: its JSON, or its record with a table of regions and of key slots."""
    if show.json:
        show.record(answer, PROVIDER)
        return
    body = answer.body
    show.fields(body, PROVIDER)
    show.table(body.get("regions") or [], REGION, "No regions.")
    if body.get("slots"):
        show.table(body["slots"], SLOT, "No key slots.")
