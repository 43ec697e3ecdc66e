"""How a page follows buckets on their way: the fingerprint its script polls, the refresh without one.

A page with a bucket pending, provisioning or deleting carries the fingerprint of what it shows; the
console's script polls a small ``_api`` endpoint and reloads the content when the fingerprint
changes. Without JavaScript the page reloads itself every ``NO_SCRIPT_REFRESH`` seconds instead.
"""

from __future__ import annotations

from loopback.buckets.models import BucketStatus
from loopback.buckets.service import BucketFilters, BucketView
from loopback.tenancy.access import ProjectScope
from loopback.web.dependencies import Console

BUSY = frozenset({BucketStatus.PENDING, BucketStatus.PROVISIONING, BucketStatus.DELETING})
# Without JavaScript, pages with a bucket on its way reload themselves this often (seconds).
NO_SCRIPT_REFRESH = 3


def project_state(console: Console, scope: ProjectScope) -> tuple[str, bool]:
    """A fingerprint of every current bucket's status, and whether one is still on its way."""
    parts: list[str] = []
    busy = False
    cursor: str | None = None
    while True:
        views, cursor = console.runtime.buckets.list(
            console.session, scope, 200, cursor, BucketFilters(superseded=False)
        )
        for view in views:
            parts.append(f"{view.bucket.id}:{view.bucket.status}")
            busy = busy or view.bucket.status in BUSY
        if cursor is None:
            return ",".join(parts), busy


def bucket_state(view: BucketView) -> str:
    bucket = view.bucket
    return f"{bucket.status}:{bucket.attempts}:{bucket.status_reason or ''}"
