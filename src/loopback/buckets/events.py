"""A bucket's history: one event per change of its status, recorded in that change's own unit of work.

The request path, the reconcile, the drift round and the credentials domain (a key granted or
revoked on a bucket) all write these, so the one writer sits below every one of them.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from loopback.buckets.models import Bucket, BucketEvent
from loopback.kit.ids import new_id


def record_event(session: Session, bucket: Bucket, kind: str, reason: str | None = None) -> None:
    session.add(
        BucketEvent(id=new_id("bev"), bucket_id=bucket.id, kind=kind, status=bucket.status, reason=reason)
    )


def add_event(session: Session, bucket_id: str, kind: str, status: str, reason: str | None = None) -> None:
    """``record_event`` as one INSERT sent now, for a writer that changed the bucket with a statement
    rather than through a loaded row (the reconcile's claim and its outcome)."""
    session.execute(
        _INSERT,
        {"id": new_id("bev"), "bucket_id": bucket_id, "kind": kind, "status": status, "reason": reason},
    )


_INSERT = insert(
    cast(Table, BucketEvent.__table__)
)  # built once; ``created_at`` comes from the column's default
