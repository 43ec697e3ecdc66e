"""Credential shapes of API v3; only the issuing and rotating responses carry the secret."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from loopback.credentials.formats import FORMATS, Handover
from loopback.credentials.service import CredentialView, GrantRequest, KeyRequest
from loopback.kit.clock import utcnow
from loopback.providers.base import Access

AccessField = Field(
    default=Access.READ_WRITE,
    description="read-write (objects: get, head, put, delete, multipart, list, tags), read-only (get, "
    "head, list) or write-only (put and multipart: no get, no list, no delete)",
)
PrefixField = Field(
    default=None,
    max_length=512,
    description="only object keys under this prefix (literal; no wildcards), e.g. backups/",
)
ExpiresAtField = Field(default=None, description="the key is revoked at the provider at this time")
ExpiresInDaysField = Field(default=None, ge=1, le=3650, description="instead of expires_at: days from now")
NameField = Field(default=None, max_length=63, description="what the key is for, shown in lists")
FormatQuery = Literal["env", "aws-credentials", "aws-config", "rclone", "s3cmd", "kubernetes"]
assert set(FormatQuery.__args__) == set(FORMATS)  # type: ignore[attr-defined]


class _Expiry(BaseModel):
    expires_at: datetime | None = ExpiresAtField
    expires_in_days: int | None = ExpiresInDaysField

    @model_validator(mode="after")
    def _one_expiry(self) -> _Expiry:
        if self.expires_at is not None and self.expires_in_days is not None:
            raise ValueError("give expires_at or expires_in_days, not both")
        return self

    def expiry(self) -> datetime | None:
        if self.expires_in_days is not None:
            return utcnow() + timedelta(days=self.expires_in_days)
        return self.expires_at


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bucket_id: str = Field(max_length=40, description="a bucket of this project")
    access: Access = AccessField
    prefix: str | None = PrefixField

    def request(self) -> GrantRequest:
        return GrantRequest(self.bucket_id, self.access.value, self.prefix)


class CredentialIssue(_Expiry):
    """A key over 1 to 128 buckets of the project, each grant with its own mode."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = NameField
    grants: list[GrantIn] = Field(min_length=1, max_length=128)

    def request(self) -> KeyRequest:
        return KeyRequest(grants=[g.request() for g in self.grants], name=self.name, expires_at=self.expiry())


class BucketCredentialIssue(_Expiry):
    """A key for this bucket only; every field is optional (an empty body is a read-write key)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = NameField
    access: Access = AccessField
    prefix: str | None = PrefixField

    def request(self, bucket_id: str) -> KeyRequest:
        return KeyRequest(
            grants=[GrantRequest(bucket_id, self.access.value, self.prefix)],
            name=self.name,
            expires_at=self.expiry(),
            grant_field="",
        )


class CredentialUpdate(BaseModel):
    """A new name or new grants; the key and its secret stay the same."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = NameField
    grants: list[GrantIn] | None = Field(default=None, min_length=1, max_length=128)


class CredentialRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(
        default=86400,
        ge=0,
        le=30 * 86400,
        description="how long the old key keeps working; 0 revokes it at once",
    )


class GrantOut(BaseModel):
    bucket_id: str
    bucket: str = Field(description="the bucket's name, as S3 calls use it")
    access: str
    prefix: str | None


class CredentialOut(BaseModel):
    id: str
    name: str
    bucket_id: str = Field(description="the first granted bucket (every grant is in grants)")
    access_key_id: str
    status: str = Field(description="active, expiring (within 7 days), rotating, expired or revoked")
    grants: list[GrantOut]
    provider: str
    region: str
    expires_at: datetime | None
    revoke_at: datetime | None = Field(description="rotating: when the old key stops working")
    rotated_from: str | None = Field(description="the key this one replaced in a rotation")
    rotated_to: str | None = Field(description="the key that replaced this one in a rotation")
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, view: CredentialView) -> CredentialOut:
        credential = view.credential
        return cls(
            id=credential.id,
            name=credential.name,
            bucket_id=credential.grants[0].bucket_id if credential.grants else "",
            access_key_id=credential.access_key_id,
            status=view.status,
            grants=[
                GrantOut(
                    bucket_id=g.bucket_id,
                    bucket=view.buckets.get(g.bucket_id, g.bucket_id),
                    access=g.access,
                    prefix=g.prefix,
                )
                for g in credential.grants
            ],
            provider=view.provider,
            region=view.region,
            expires_at=credential.expires_at,
            revoke_at=credential.revoke_at,
            rotated_from=credential.rotated_from_id,
            rotated_to=view.rotated_to,
            created_at=credential.created_at,
            revoked_at=credential.revoked_at,
        )


class IssuedCredentialOut(CredentialOut):
    secret_access_key: str = Field(description="shown in this response only; store it now")
    bucket: str = Field(description="the first granted bucket's name, to use in S3 calls")
    buckets: list[str] = Field(description="every granted bucket's name")
    endpoint: str | None = Field(description="the S3 endpoint of the buckets")

    @classmethod
    def issued(cls, view: CredentialView, secret: str) -> IssuedCredentialOut:
        names = list(view.bucket_names)
        return cls(
            **CredentialOut.of(view).model_dump(),
            secret_access_key=secret,
            bucket=names[0] if names else "",
            buckets=names,
            endpoint=view.endpoint,
        )


def handover(view: CredentialView, secret: str) -> Handover:
    return Handover(
        credential_id=view.credential.id,
        name=view.credential.name,
        access_key_id=view.credential.access_key_id,
        secret_access_key=secret,
        endpoint=view.endpoint or "",
        region=view.region,
        buckets=view.bucket_names,
    )


class CredentialList(BaseModel):
    credentials: list[CredentialOut]
    next_cursor: str | None = Field(default=None, description="pass as cursor for the next page")
