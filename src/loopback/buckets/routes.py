"""API v3 routes for buckets: each one line over the bucket service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from loopback.buckets.schemas import (
    BucketCreate,
    BucketList,
    BucketOut,
    OrganizationUsage,
    ProjectUsageOut,
)
from loopback.tenancy.auth import (
    BucketsCreate,
    BucketsDelete,
    BucketsRead,
    DbSession,
    RuntimeDep,
    UsageRead,
    UsageRefresh,
)

router = APIRouter(prefix="/v3/organizations/{org}/projects/{project}/buckets", tags=["buckets"])


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=BucketOut)
def create_bucket(
    body: BucketCreate,
    scope: BucketsCreate,
    runtime: RuntimeDep,
    session: DbSession,
    request: Request,
    response: Response,
) -> BucketOut:
    """Record a bucket as pending and start provisioning it; poll the Location until it is ready."""
    view = runtime.buckets.create(session, scope, body.name, body.provider, body.region)
    response.headers["Location"] = f"{request.url.path}/{view.bucket.id}"
    return BucketOut.of(view)


@router.get("", response_model=BucketList)
def list_buckets(
    scope: BucketsRead,
    runtime: RuntimeDep,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> BucketList:
    """The project's buckets, oldest first, a page at a time."""
    views, next_cursor = runtime.buckets.list(session, scope, limit, cursor)
    return BucketList(buckets=[BucketOut.of(v) for v in views], next_cursor=next_cursor)


@router.get("/{bucket_id}", response_model=BucketOut)
def get_bucket(bucket_id: str, scope: BucketsRead, runtime: RuntimeDep, session: DbSession) -> BucketOut:
    """One bucket with its status, endpoint and usage."""
    return BucketOut.of(runtime.buckets.get(session, scope, bucket_id))


@router.delete("/{bucket_id}", status_code=status.HTTP_202_ACCEPTED, response_model=BucketOut)
def delete_bucket(bucket_id: str, scope: BucketsDelete, runtime: RuntimeDep, session: DbSession) -> BucketOut:
    """Delete an empty bucket and revoke its credentials; the record stays as `deleted`."""
    return BucketOut.of(runtime.buckets.delete(session, scope, bucket_id))


@router.post("/{bucket_id}/usage/refresh", status_code=status.HTTP_202_ACCEPTED, response_model=BucketOut)
def refresh_usage(bucket_id: str, scope: UsageRefresh, runtime: RuntimeDep, session: DbSession) -> BucketOut:
    """Queue a usage sync of a ready bucket; `usage.last_synced_at` moves when it is done."""
    return BucketOut.of(runtime.buckets.request_usage_refresh(session, scope, bucket_id))


usage_router = APIRouter(prefix="/v3/organizations/{org}", tags=["usage"])


@usage_router.get("/usage", response_model=OrganizationUsage)
def organization_usage(scope: UsageRead, runtime: RuntimeDep, session: DbSession) -> OrganizationUsage:
    """Live buckets, objects and bytes per project, as of each bucket's last usage sync."""
    projects = [ProjectUsageOut.of(u) for u in runtime.buckets.usage_by_project(session, scope)]
    return OrganizationUsage(
        organization=scope.organization_slug,
        projects=projects,
        buckets=sum(p.buckets for p in projects),
        object_count=sum(p.object_count for p in projects),
        bytes=sum(p.bytes for p in projects),
    )
