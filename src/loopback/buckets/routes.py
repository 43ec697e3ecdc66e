"""API v3 routes for buckets: each one line over the bucket service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy.orm import Session
from starlette.convertors import StringConvertor, register_url_convertor

from loopback.buckets.models import INSTALL_LENGTHS, BucketStatus
from loopback.buckets.schemas import (
    BucketAdopt,
    BucketCreate,
    BucketEventList,
    BucketEventOut,
    BucketList,
    BucketOut,
    BucketReplace,
    BucketValidation,
    OrganizationUsage,
    ProjectUsageOut,
    link_of,
)
from loopback.buckets.service import BucketFilters, BucketService, InstallLink
from loopback.kit.db import Database
from loopback.kit.errors import Invalid
from loopback.kit.openapi import problems
from loopback.kit.services import from_state
from loopback.tenancy.auth import (
    BucketsCreate,
    BucketsDelete,
    BucketsRead,
    DbSession,
    UsageRead,
    UsageRefresh,
    in_session,
)

BucketsDep = Annotated[BucketService, Depends(from_state("buckets"))]

router = APIRouter(prefix="/v3/organizations/{org}/projects/{project}/buckets", tags=["buckets"])


class BucketIdConvertor(StringConvertor):
    """A bucket id in a path is never ``adopt`` or ``validate``: those paths are routes of their own,
    so ``GET .../buckets/adopt`` answers 405 with ``Allow: POST``, as the document says."""

    regex = r"(?!(?:adopt|validate)(?:/|$))[^/]+"


register_url_convertor("bucket_id", BucketIdConvertor())
ONE = "/{bucket_id:bucket_id}"


# The 409 of create and of its dry run: one problem type (``conflict``) for a taken name.
TAKEN = "a current bucket holds this name at that provider, or the Idempotency-Key is still running"


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, response_model=BucketOut, responses=problems(409, s409=TAKEN)
)
def create_bucket(
    body: BucketCreate,
    scope: BucketsCreate,
    buckets: BucketsDep,
    session: DbSession,
    request: Request,
    response: Response,
) -> BucketOut:
    """Record a bucket as pending and start provisioning it; poll the Location until it is ready."""
    view = buckets.create(
        session, scope, body.name, body.provider, body.region, body.deletion_policy, link_of(body.install)
    )
    response.headers["Location"] = f"{request.url.path}/{view.bucket.id}"
    return BucketOut.of(view)


@router.post("/validate", response_model=BucketValidation, responses=problems(409, s409=TAKEN))
def validate_bucket(
    body: BucketCreate, scope: BucketsCreate, buckets: BucketsDep, session: DbSession
) -> BucketValidation:
    """Check a bucket's name and placement without recording anything, answering as create would:
    422 lists every problem of the body at once, 409 says the name is taken."""
    region = buckets.validate(session, body.name, body.provider, body.region, body.deletion_policy)
    return BucketValidation(
        valid=True, name=body.name, provider=body.provider, region=body.region, endpoint=region.endpoint
    )


@router.post("/adopt", status_code=status.HTTP_201_CREATED, response_model=BucketOut, responses=problems(503))
def adopt_bucket(
    body: BucketAdopt,
    scope: BucketsCreate,
    buckets: BucketsDep,
    session: DbSession,
    request: Request,
    response: Response,
) -> BucketOut:
    """Bring an existing provider bucket under this project, once the provider says it exists and is ours."""
    view = buckets.adopt(session, scope, body.name, body.provider, body.region, link_of(body.install))
    response.headers["Location"] = f"{request.url.path.removesuffix('/adopt')}/{view.bucket.id}"
    return BucketOut.of(view)


def _install_query(part: str, alias: str | None = None) -> Any:
    return Query(
        alias=alias or f"install.{part}",
        max_length=INSTALL_LENGTHS[part],
        description=f"only buckets whose install link's {part} is this",
    )


NO_INSTALL_FILTER = InstallLink()


def install_filter(
    catalog_item: Annotated[str | None, _install_query("catalog_item")] = None,
    release: Annotated[str | None, _install_query("release")] = None,
    install_cluster: Annotated[str | None, _install_query("cluster")] = None,
    namespace: Annotated[str | None, _install_query("namespace")] = None,
    claim: Annotated[str | None, _install_query("claim")] = None,
    cluster: Annotated[str | None, _install_query("cluster", "cluster")] = None,
) -> InstallLink:
    """The install link a list is narrowed to; ``cluster`` is ``install.cluster`` by its short name."""
    if cluster and install_cluster and cluster != install_cluster:
        raise Invalid.field("cluster", "names another cluster than install.cluster; give one of them")
    return InstallLink(catalog_item, release, install_cluster or cluster, namespace, claim)


@router.get("", response_model=BucketList)
def list_buckets(
    scope: BucketsRead,
    buckets: BucketsDep,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[BucketStatus | None, Query(description="only buckets in this status")] = None,
    provider: Annotated[str | None, Query(max_length=63)] = None,
    region: Annotated[str | None, Query(max_length=63)] = None,
    superseded: Annotated[
        bool | None, Query(description="true: only replaced rows; false: only current ones; unset: all")
    ] = None,
    install: Annotated[InstallLink, Depends(install_filter)] = NO_INSTALL_FILTER,
) -> BucketList:
    """Every bucket row of the project, superseded ones included, oldest first, a page at a time.

    The `install.*` filters (and `cluster`, the same as `install.cluster`) keep the buckets whose
    install link has that value; an empty value filters nothing."""
    filters = BucketFilters(status, provider, region, superseded, install)
    views, next_cursor = buckets.list(session, scope, limit, cursor, filters)
    return BucketList(buckets=[BucketOut.of(v) for v in views], next_cursor=next_cursor)


@router.get(ONE, response_model=BucketOut)
async def get_bucket(bucket_id: str, scope: BucketsRead, request: Request) -> Response:
    """One bucket with its status, endpoint and usage."""
    # The answer's JSON is made in the worker thread from a Core row, and FastAPI sends it as it is
    # (response_model still documents it): the event loop neither checks nor serializes it, and
    # the route solves no dependency beyond its scope (issue 14).
    buckets: BucketService = request.app.state.buckets
    db: Database = request.app.state.db

    def answer(session: Session) -> Response:
        shown = buckets.get_shown(session, scope, bucket_id)
        return Response(BucketOut.json_of(shown), media_type="application/json")

    return await in_session(db, answer)


@router.delete(
    ONE,
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BucketOut,
    responses=problems(409, 503, s409="the bucket holds objects (`object_count`), or is changing"),
)
def delete_bucket(
    bucket_id: str,
    scope: BucketsDelete,
    buckets: BucketsDep,
    session: DbSession,
    force: Annotated[bool, Query(description="empty the bucket first instead of refusing")] = False,
    policy: Annotated[
        str | None, Query(pattern="^(delete|retain)$", description="override the bucket's deletion policy")
    ] = None,
) -> BucketOut:
    """Delete a bucket and revoke its credentials (409 while it holds objects, unless forced).

    The record stays as `deleted`; with policy `retain` the bucket stays at the provider.
    """
    return BucketOut.of(buckets.delete(session, scope, bucket_id, force, policy))


@router.post(ONE + "/replace", status_code=status.HTTP_202_ACCEPTED, response_model=BucketOut)
def replace_bucket(
    bucket_id: str,
    body: BucketReplace,
    scope: BucketsCreate,
    buckets: BucketsDep,
    session: DbSession,
    request: Request,
    response: Response,
) -> BucketOut:
    """Re-provision a failed or lost bucket, or move one, as a new row that supersedes this one."""
    view = buckets.replace(session, scope, bucket_id, body.name, body.provider, body.region)
    response.headers["Location"] = f"{request.url.path.rsplit('/', 2)[0]}/{view.bucket.id}"
    return BucketOut.of(view)


@router.get(ONE + "/events", response_model=BucketEventList)
def list_bucket_events(
    bucket_id: str, scope: BucketsRead, buckets: BucketsDep, session: DbSession
) -> BucketEventList:
    """Every transition of the bucket with its reason and time, oldest first."""
    events = buckets.events(session, scope, bucket_id)
    return BucketEventList(events=[BucketEventOut.model_validate(e) for e in events])


@router.post(ONE + "/usage/refresh", status_code=status.HTTP_202_ACCEPTED, response_model=BucketOut)
def refresh_usage(bucket_id: str, scope: UsageRefresh, buckets: BucketsDep, session: DbSession) -> BucketOut:
    """Queue a usage sync of a ready bucket; `usage.last_synced_at` moves when it is done."""
    return BucketOut.of(buckets.request_usage_refresh(session, scope, bucket_id))


usage_router = APIRouter(prefix="/v3/organizations/{org}", tags=["usage"])


@usage_router.get("/usage", response_model=OrganizationUsage)
def organization_usage(scope: UsageRead, buckets: BucketsDep, session: DbSession) -> OrganizationUsage:
    """Live buckets, objects and bytes per project, as of each bucket's last usage sync."""
    projects = [ProjectUsageOut.of(u) for u in buckets.usage_by_project(session, scope)]
    return OrganizationUsage(
        organization=scope.organization_slug,
        projects=projects,
        buckets=sum(p.buckets for p in projects),
        object_count=sum(p.object_count for p in projects),
        bytes=sum(p.bytes for p in projects),
    )
