"""API v3 routes for credentials: a project's keys over its buckets, and one bucket's keys.

The issuing and rotating calls answer the secret once, as JSON or, with ``?format=``, as the file
a tool reads (``env``, ``aws-credentials``, ``aws-config``, ``rclone``, ``s3cmd``, ``kubernetes``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from fastapi.responses import PlainTextResponse

from loopback.buckets.routes import BucketsDep
from loopback.credentials.formats import MEDIA_TYPES, render
from loopback.credentials.schemas import (
    BucketCredentialIssue,
    CredentialIssue,
    CredentialList,
    CredentialOut,
    CredentialRotate,
    CredentialUpdate,
    FormatQuery,
    IssuedCredentialOut,
    handover,
)
from loopback.credentials.service import CredentialService, CredentialView
from loopback.kit.openapi import problems
from loopback.kit.services import from_state
from loopback.tenancy.auth import (
    CredentialsIssue,
    CredentialsRead,
    CredentialsRevoke,
    DbSession,
)

CredentialsDep = Annotated[CredentialService, Depends(from_state("credentials"))]

PROJECT = "/v3/organizations/{org}/projects/{project}"
router = APIRouter(prefix=PROJECT, tags=["credentials"])

FormatParam = Annotated[
    FormatQuery | None,
    Query(alias="format", description="answer with the file a tool reads instead of JSON"),
]
LimitParam = Annotated[int, Query(ge=1, le=500)]
CursorParam = Annotated[str | None, Query(max_length=40)]
AT_PROVIDER = problems(502, 503)  # every change of a key is made at the provider while the caller waits
HANDOVER_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AT_PROVIDER,
    201: {
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
        "description": "the key; with ?format= as that tool's file",
    },
}


def _answer(
    view: CredentialView, secret: str, fmt: str | None, location: str, response: Response
) -> IssuedCredentialOut | Response:
    headers = {"Location": location, "Cache-Control": "no-store"}
    if fmt is not None:
        return PlainTextResponse(
            render(fmt, handover(view, secret)),
            status_code=status.HTTP_201_CREATED,
            media_type=MEDIA_TYPES[fmt],
            headers=headers,
        )
    response.headers.update(headers)
    return IssuedCredentialOut.issued(view, secret)


def _listing(views: list[CredentialView], next_cursor: str | None) -> CredentialList:
    return CredentialList(credentials=[CredentialOut.of(v) for v in views], next_cursor=next_cursor)


# --- a project's keys --------------------------------------------------------------------------


@router.post(
    "/credentials",
    status_code=status.HTTP_201_CREATED,
    response_model=IssuedCredentialOut,
    responses=HANDOVER_RESPONSES,
)
def issue_credential(
    body: CredentialIssue,
    scope: CredentialsIssue,
    credentials: CredentialsDep,
    session: DbSession,
    request: Request,
    response: Response,
    fmt: FormatParam = None,
) -> IssuedCredentialOut | Response:
    """Issue a key over 1 to 128 buckets of this project, each read-write, read-only or write-only."""
    view, secret = credentials.issue_and_commit(session, scope, body.request())
    return _answer(view, secret, fmt, f"{request.url.path}/{view.credential.id}", response)


@router.get("/credentials", response_model=CredentialList)
def list_credentials(
    scope: CredentialsRead,
    credentials: CredentialsDep,
    session: DbSession,
    limit: LimitParam = 100,
    cursor: CursorParam = None,
) -> CredentialList:
    """The project's keys with their grants, state and expiry, oldest first; never a secret."""
    return _listing(*credentials.page(session, scope, limit, cursor))


@router.get("/credentials/{credential_id}", response_model=CredentialOut)
def get_credential(
    credential_id: str, scope: CredentialsRead, credentials: CredentialsDep, session: DbSession
) -> CredentialOut:
    """One key, without its secret."""
    return CredentialOut.of(credentials.get(session, scope, credential_id))


@router.patch(
    "/credentials/{credential_id}",
    response_model=CredentialOut,
    responses={**AT_PROVIDER, **problems(409, s409="only an active key changes")},
)
def update_credential(
    credential_id: str,
    body: CredentialUpdate,
    scope: CredentialsIssue,
    credentials: CredentialsDep,
    session: DbSession,
) -> CredentialOut:
    """Rename a key or replace its grants; the access key and secret stay the same."""
    grants = None if body.grants is None else [g.request() for g in body.grants]
    return CredentialOut.of(credentials.update(session, scope, credential_id, body.name, grants))


@router.post(
    "/credentials/{credential_id}/rotate",
    status_code=status.HTTP_201_CREATED,
    response_model=IssuedCredentialOut,
    responses=HANDOVER_RESPONSES,
)
def rotate_credential(
    credential_id: str,
    scope: CredentialsIssue,
    credentials: CredentialsDep,
    session: DbSession,
    request: Request,
    response: Response,
    body: Annotated[CredentialRotate | None, Body()] = None,
    fmt: FormatParam = None,
) -> IssuedCredentialOut | Response:
    """A new key and secret for the same grants; the old key works for the grace period, then is revoked."""
    grace = (body or CredentialRotate()).grace_seconds
    view, secret = credentials.rotate(session, scope, credential_id, grace)
    location = request.url.path.removesuffix(f"{credential_id}/rotate") + view.credential.id
    return _answer(view, secret, fmt, location, response)


@router.delete("/credentials/{credential_id}", response_model=CredentialOut, responses=AT_PROVIDER)
def revoke_credential(
    credential_id: str, scope: CredentialsRevoke, credentials: CredentialsDep, session: DbSession
) -> CredentialOut:
    """Revoke a key at the provider; it stops working at once."""
    return CredentialOut.of(credentials.revoke(session, scope, credential_id))


# --- one bucket's keys -------------------------------------------------------------------------


@router.post(
    "/buckets/{bucket_id}/credentials",
    status_code=status.HTTP_201_CREATED,
    response_model=IssuedCredentialOut,
    responses=HANDOVER_RESPONSES,
)
def issue_bucket_credential(
    bucket_id: str,
    scope: CredentialsIssue,
    buckets: BucketsDep,
    credentials: CredentialsDep,
    session: DbSession,
    request: Request,
    response: Response,
    body: Annotated[BucketCredentialIssue | None, Body()] = None,
    fmt: FormatParam = None,
) -> IssuedCredentialOut | Response:
    """Issue a key that reaches this bucket only; the secret is in this response and nowhere else."""
    buckets.get(session, scope, bucket_id)  # 404 for a bucket outside the project
    key = (body or BucketCredentialIssue()).request(bucket_id)
    view, secret = credentials.issue_and_commit(session, scope, key)
    return _answer(view, secret, fmt, f"{request.url.path}/{view.credential.id}", response)


@router.get("/buckets/{bucket_id}/credentials", response_model=CredentialList)
def list_bucket_credentials(
    bucket_id: str,
    scope: CredentialsRead,
    buckets: BucketsDep,
    credentials: CredentialsDep,
    session: DbSession,
    limit: LimitParam = 100,
    cursor: CursorParam = None,
) -> CredentialList:
    """The keys with a grant on this bucket, without their secrets."""
    buckets.get(session, scope, bucket_id)
    return _listing(*credentials.page(session, scope, limit, cursor, bucket_id=bucket_id))


@router.delete(
    "/buckets/{bucket_id}/credentials/{credential_id}", response_model=CredentialOut, responses=AT_PROVIDER
)
def revoke_bucket_credential(
    bucket_id: str,
    credential_id: str,
    scope: CredentialsRevoke,
    buckets: BucketsDep,
    credentials: CredentialsDep,
    session: DbSession,
) -> CredentialOut:
    """Revoke a key at the provider; it stops working at once (for every bucket it reaches)."""
    buckets.get(session, scope, bucket_id)
    return CredentialOut.of(credentials.revoke(session, scope, credential_id, bucket_id))
