"""API v3 routes for a bucket's credentials."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from loopback.credentials.schemas import CredentialList, CredentialOut, IssuedCredentialOut
from loopback.tenancy.auth import (
    CredentialsIssue,
    CredentialsRead,
    CredentialsRevoke,
    DbSession,
    RuntimeDep,
)

router = APIRouter(
    prefix="/v3/organizations/{org}/projects/{project}/buckets/{bucket_id}/credentials",
    tags=["credentials"],
)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=IssuedCredentialOut)
def issue_credential(
    bucket_id: str,
    scope: CredentialsIssue,
    runtime: RuntimeDep,
    session: DbSession,
    request: Request,
    response: Response,
) -> IssuedCredentialOut:
    """Issue an access key that reaches this bucket only; the secret is in this response and nowhere else."""
    view = runtime.buckets.get(session, scope, bucket_id)
    credential, secret = runtime.credentials.issue(session, scope, view)
    response.headers["Location"] = f"{request.url.path}/{credential.id}"
    return IssuedCredentialOut(
        **CredentialOut.of(credential).model_dump(),
        secret_access_key=secret,
        bucket=view.bucket.name,
        endpoint=view.bucket.endpoint,
        region=view.region,
    )


@router.get("", response_model=CredentialList)
def list_credentials(
    bucket_id: str, scope: CredentialsRead, runtime: RuntimeDep, session: DbSession
) -> CredentialList:
    """The bucket's credentials, without their secrets."""
    view = runtime.buckets.get(session, scope, bucket_id)
    return CredentialList(
        credentials=[CredentialOut.of(c) for c in runtime.credentials.list(session, scope, view.bucket.id)]
    )


@router.delete("/{credential_id}", response_model=CredentialOut)
def revoke_credential(
    bucket_id: str,
    credential_id: str,
    scope: CredentialsRevoke,
    runtime: RuntimeDep,
    session: DbSession,
) -> CredentialOut:
    """Revoke a credential at the provider; it stops working at once."""
    view = runtime.buckets.get(session, scope, bucket_id)
    return CredentialOut.of(runtime.credentials.revoke(session, scope, view, credential_id))
