"""How access keys read in a table or a record: their buckets and modes, state, expiry; never a secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopback.buckets.cli.columns import when
from loopback.client.output import Column, ago


def grant_text(grant: Mapping[str, Any]) -> str:
    """One grant for a table: ``logs (read-only)``, ``logs (write-only, under backups/)``."""
    name = grant.get("bucket") or grant.get("bucket_id")
    prefix = grant.get("prefix")
    return f"{name} ({grant.get('access')}{f', under {prefix}' if prefix else ''})"


def grants_text(grants: Any) -> str:
    if not isinstance(grants, list) or not grants:
        return "-"
    return ", ".join(grant_text(g) for g in grants if isinstance(g, Mapping))


def status_cell(credential: Mapping[str, Any]) -> str:
    """A key's status for a list; a rotating key's says when the old key stops, which its reader wants."""
    status = str(credential.get("status"))
    if status == "rotating" and credential.get("revoke_at"):
        return f"rotating (ends {ago(credential['revoke_at'])})"
    return status


CREDENTIAL_ROW = [
    Column("id", "id"),
    Column("name", "name"),
    Column("access key id", "access_key_id"),
    Column("status", "status_cell"),
    Column("buckets", "grants", grants_text),
    Column("expires", "expires_at", ago),
    Column("created", "created_at", ago),
]
CREDENTIAL = [
    Column("id", "id"),
    Column("name", "name"),
    Column("access key id", "access_key_id"),
    Column("status", "status"),
    Column("buckets", "grants", grants_text),
    Column("provider", "provider"),
    Column("region", "region"),
    Column("expires", "expires_at", when),
    Column("old key ends", "revoke_at", when),
    Column("rotated from", "rotated_from"),
    Column("rotated to", "rotated_to"),
    Column("created", "created_at", when),
    Column("revoked", "revoked_at", when),
]
ISSUED = [
    Column("id", "id"),
    Column("name", "name"),
    Column("access key id", "access_key_id"),
    Column("buckets", "grants", grants_text),
    Column("endpoint", "endpoint"),
    Column("region", "region"),
    Column("expires", "expires_at", when),
]
