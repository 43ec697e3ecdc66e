"""Credential shapes of API v3; only the issuing response carries the secret."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from loopback.credentials.models import Credential


class CredentialOut(BaseModel):
    id: str
    bucket_id: str
    access_key_id: str
    status: str = Field(description="active or revoked")
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, credential: Credential) -> CredentialOut:
        return cls(
            id=credential.id,
            bucket_id=credential.bucket_id,
            access_key_id=credential.access_key_id,
            status=credential.status,
            created_at=credential.created_at,
            revoked_at=credential.revoked_at,
        )


class IssuedCredentialOut(CredentialOut):
    secret_access_key: str = Field(description="shown in this response only; store it now")
    bucket: str = Field(description="the bucket name to use in S3 calls")
    endpoint: str | None = Field(description="the S3 endpoint of the bucket")
    region: str


class CredentialList(BaseModel):
    credentials: list[CredentialOut]
