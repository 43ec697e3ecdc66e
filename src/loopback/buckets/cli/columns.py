"""How buckets, their events and their usage read in a table or a record.

Sizes are in binary units and times relative to now; a record adds the exact bytes and the
timestamp itself. ``--output json`` bypasses all of it and keeps the API's raw values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from loopback.buckets.cli.install import described
from loopback.client.output import Column, ago, human_bytes, shown


def _usage(key: str, render: Callable[[Any], str] = shown) -> Callable[[Any], str]:
    return lambda usage: render(usage.get(key) if isinstance(usage, Mapping) else None)


def when(value: Any) -> str:
    """A timestamp with how long ago it was, for a record: ``2025-01-02 10:00:00Z (3 minutes ago)``."""
    return shown(value) if value is None else f"{shown(value)} ({ago(value)})"


def quota(value: Any) -> str:
    """Where a bucket stands against its quota: ``bucket_bytes 1.0 KiB of 1000 B: exceeded``."""
    if not isinstance(value, Mapping):
        return shown(None)
    amount = human_bytes if str(value.get("quota", "")).endswith("bytes") else shown
    used, limit = amount(value.get("used")), amount(value.get("limit"))
    return f"{value.get('quota')} {used} of {limit}: {value.get('state')}"


def size(value: Any) -> str:
    """Bytes in binary units and exactly, for a record: ``1.0 KiB (1024 bytes)``."""
    return (
        human_bytes(value)
        if not isinstance(value, int) or value < 1024
        else f"{human_bytes(value)} ({value} bytes)"
    )


BUCKET_ROW = [
    Column("name", "name"),
    Column("status", "status"),
    Column("provider", "provider"),
    Column("region", "region"),
    Column("objects", "usage", _usage("object_count")),
    Column("size", "usage", _usage("bytes", human_bytes)),
    Column("install", "install", described),
    Column("id", "id"),
    Column("created", "created_at", ago),
]
BUCKET = [
    Column("name", "name"),
    Column("id", "id"),
    Column("status", "status"),
    Column("reason", "status_reason"),
    Column("provider", "provider"),
    Column("region", "region"),
    Column("endpoint", "endpoint"),
    Column("deletion policy", "deletion_policy"),
    Column("objects", "usage", _usage("object_count")),
    Column("size", "usage", _usage("bytes", size)),
    Column("usage synced", "usage", _usage("last_synced_at", when)),
    Column("quota", "quota", quota),
    Column("created", "created_at", when),
    Column("updated", "updated_at", when),
    Column("attempts", "attempts"),
    Column("next attempt", "next_attempt_at", when),
    Column("supersedes", "supersedes"),
    Column("superseded by", "superseded_by"),
    Column("adopted", "adopted"),
    Column("install", "install", described),
]
VALIDATION = [
    Column("valid", "valid"),
    Column("name", "name"),
    Column("provider", "provider"),
    Column("region", "region"),
    Column("endpoint", "endpoint"),
]
EVENT = [
    Column("when", "created_at", ago),
    Column("event", "kind"),
    Column("status", "status"),
    Column("reason", "reason"),
]
REGION = [
    Column("provider", "provider"),
    Column("family", "family"),
    Column("region", "code"),
    Column("name", "name"),
    Column("endpoint", "endpoint"),
]
PROJECT_USAGE = [
    Column("project", "project"),
    Column("buckets", "buckets"),
    Column("objects", "object_count"),
    Column("size", "bytes", human_bytes),
    Column("oldest sync", "oldest_sync", ago),
]
BUCKET_USAGE = [
    Column("bucket", "name"),
    Column("id", "id"),
    Column("status", "status"),
    Column("objects", "usage", _usage("object_count")),
    Column("size", "usage", _usage("bytes", size)),
    Column("synced", "usage", _usage("last_synced_at", when)),
]
