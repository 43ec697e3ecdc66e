"""API v2 for buckets: the older flat shape, kept for existing clients, deprecated.

Thin presentation over the same bucket service as v3. The differences a v2 client relies on: a
flat bucket (usage as ``size_bytes`` and ``object_count``, 0 before the first sync and null, with
the endpoint, once deleted), numbered
pages (``page``, ``per_page``, ``total``), superseded rows hidden from the list, no force or
policy on delete. Every answer of these routes, problems included, says that v2 is deprecated
(RFC 9745), when it goes away (RFC 8594), and where its successor is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from loopback.buckets.routes import BucketsDep
from loopback.buckets.schemas import NAME_DESCRIPTION, NAME_RULES
from loopback.buckets.service import BucketView
from loopback.kit.openapi import problems
from loopback.tenancy.auth import BucketsCreate, BucketsDelete, BucketsRead, DbSession

PREFIX = "/v2/organizations/{org}/projects/{project}/buckets"
SUCCESSOR = "/v3/organizations/{org}/projects/{project}/buckets"
DEPRECATED_ON = datetime(2026, 11, 1, tzinfo=UTC)
SUNSET_ON = datetime(2027, 7, 1, tzinfo=UTC)
MAX_PAGE = 1_000_000  # keeps the offset a 64-bit integer on every database
DEPRECATION = f"@{int(DEPRECATED_ON.timestamp())}"  # RFC 9745: a structured-field date
SUNSET = format_datetime(SUNSET_ON, usegmt=True)  # RFC 8594: an HTTP-date


def deprecation_headers(path_params: dict[str, Any]) -> dict[str, str]:
    """The headers every v2 answer carries; the successor is the v3 list of the same project."""
    successor = SUCCESSOR.format(
        org=quote(str(path_params.get("org", "")), safe=""),
        project=quote(str(path_params.get("project", "")), safe=""),
    )
    return {
        "Deprecation": DEPRECATION,
        "Sunset": SUNSET,
        "Link": f'<{successor}>; rel="successor-version"',
    }


class DeprecatedRoute(APIRoute):
    """A route whose every response, problem responses included, carries the deprecation headers.

    The headers go on at the ASGI level, on whatever this route sends: a dependency could set them
    on a successful response only, and an exception handler never sees that response. Catching
    errors in the route handler instead would end the database session as if the request had
    succeeded, so errors are left to the application's handlers and only the send is wrapped.
    A 405 is raised by ``handle`` itself, so it is turned into its problem response here.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        added = deprecation_headers(scope.get("path_params", {}))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Deprecation"] = added["Deprecation"]
                headers["Sunset"] = added["Sunset"]
                headers.append("Link", added["Link"])
            await send(message)

        parent = super().handle
        await wrap_app_handling_exceptions(parent, Request(scope, receive, send))(
            scope, receive, send_with_headers
        )


class BucketV2(BaseModel):
    """A bucket as API v2 shows it: flat, usage as two integers (null once deleted), no history."""

    id: str
    name: str
    region: str = Field(description="region code")
    provider: str = Field(description="provider name")
    status: str = Field(description="pending, provisioning, ready, failed, lost, deleting or deleted")
    endpoint: str | None = Field(
        description="the S3 endpoint to use with this bucket, once ready; null once deleted"
    )
    size_bytes: int | None = Field(
        description="bytes at the last usage sync; 0 before the first, null once deleted"
    )
    object_count: int | None = Field(
        description="objects at the last usage sync; 0 before the first, null once deleted"
    )
    created_at: datetime

    @classmethod
    def of(cls, view: BucketView) -> BucketV2:
        bucket = view.bucket
        return cls(
            id=bucket.id,
            name=bucket.name,
            region=view.region,
            provider=view.provider,
            status=bucket.status,
            endpoint=None if view.gone else bucket.endpoint,
            size_bytes=None if view.gone else bucket.bytes or 0,
            object_count=None if view.gone else bucket.object_count or 0,
            created_at=bucket.created_at,
        )


class BucketV2Create(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description=NAME_DESCRIPTION, max_length=255, json_schema_extra=NAME_RULES)
    provider: str = Field(description="provider name, as GET /v3/regions lists it", max_length=63)
    region: str = Field(description="region code of that provider", max_length=63)


class BucketV2List(BaseModel):
    buckets: list[BucketV2]
    page: int = Field(description="this page, from 1")
    per_page: int
    total: int = Field(description="buckets on every page together")


def _documented(status_code: int) -> dict[int | str, dict[str, Any]]:
    """The deprecation headers in the OpenAPI document, on the success response of a route."""
    string = {"schema": {"type": "string"}}
    return {
        status_code: {
            "headers": {
                "Deprecation": {
                    "description": f"RFC 9745: deprecated since {DEPRECATED_ON:%Y-%m-%d}",
                    **string,
                },
                "Sunset": {"description": f"RFC 8594: removed after {SUNSET}", **string},
                "Link": {"description": 'the v3 successor, rel="successor-version"', **string},
            }
        }
    }


router = APIRouter(
    prefix=PREFIX, tags=["v2 buckets (deprecated)"], route_class=DeprecatedRoute, deprecated=True
)


@router.get("", response_model=BucketV2List, responses=_documented(200))
def list_buckets_v2(
    scope: BucketsRead,
    buckets: BucketsDep,
    session: DbSession,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="page number, from 1")] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> BucketV2List:
    """The project's current buckets, oldest first; rows replaced by another are left out."""
    views, total = buckets.page(session, scope, page, per_page)
    return BucketV2List(buckets=[BucketV2.of(v) for v in views], page=page, per_page=per_page, total=total)


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=BucketV2, responses=_documented(202))
def create_bucket_v2(
    body: BucketV2Create,
    scope: BucketsCreate,
    buckets: BucketsDep,
    session: DbSession,
    request: Request,
    response: Response,
) -> BucketV2:
    """Record a bucket as pending and start provisioning it; poll the Location until it is ready."""
    view = buckets.create(session, scope, body.name, body.provider, body.region)
    response.headers["Location"] = f"{request.url.path}/{view.bucket.id}"
    return BucketV2.of(view)


@router.get("/{bucket_id}", response_model=BucketV2, responses=_documented(200))
def get_bucket_v2(bucket_id: str, scope: BucketsRead, buckets: BucketsDep, session: DbSession) -> BucketV2:
    """One bucket with its status, endpoint and usage; a replaced one too."""
    return BucketV2.of(buckets.get(session, scope, bucket_id))


@router.delete(
    "/{bucket_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BucketV2,
    responses={**_documented(202), **problems(409, 503, s409="the bucket holds objects, or is changing")},
)
def delete_bucket_v2(
    bucket_id: str, scope: BucketsDelete, buckets: BucketsDep, session: DbSession
) -> BucketV2:
    """Delete a bucket and revoke its credentials; 409 while it holds objects. The record stays."""
    return BucketV2.of(buckets.delete(session, scope, bucket_id))
