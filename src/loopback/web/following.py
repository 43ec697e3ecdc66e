"""How a page follows buckets on their way: the fingerprint its script polls, the refresh without one.

A page with a bucket pending, provisioning or deleting carries the fingerprint of what it shows; the
console's script polls a small ``_api`` endpoint and reloads the content when the fingerprint
changes. Without JavaScript the page reloads itself every ``NO_SCRIPT_REFRESH`` seconds instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from loopback.buckets.models import BucketStatus
from loopback.buckets.service import BucketView
from loopback.tenancy.access import ProjectScope
from loopback.web.dependencies import Console
from loopback.web.listing import current_buckets

BUSY = frozenset({BucketStatus.PENDING, BucketStatus.PROVISIONING, BucketStatus.DELETING})
# Without JavaScript, pages with a bucket on its way reload themselves this often (seconds).
NO_SCRIPT_REFRESH = 3


def project_state(console: Console, scope: ProjectScope) -> tuple[str, bool]:
    """A fingerprint of every current bucket's status, and whether one is still on its way."""
    return fingerprint(current_buckets(console, scope))


def fingerprint(views: Sequence[BucketView]) -> tuple[str, bool]:
    """What the list page polls for, from the current buckets it read already."""
    parts = [f"{view.bucket.id}:{view.bucket.status}" for view in views]
    return ",".join(parts), any(view.bucket.status in BUSY for view in views)


def bucket_state(view: BucketView) -> str:
    bucket = view.bucket
    return f"{bucket.status}:{bucket.attempts}:{bucket.status_reason or ''}"
