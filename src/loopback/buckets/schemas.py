"""Bucket shapes of API v3."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from loopback.buckets.service import BucketView, ProjectUsage


class BucketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        description="S3 bucket name: 3-63 lowercase letters, digits, hyphens and dots",
        max_length=255,
    )
    provider: str = Field(description="provider name, as GET /v3/regions lists it", max_length=63)
    region: str = Field(description="region code of that provider", max_length=63)


class UsageOut(BaseModel):
    object_count: int | None = Field(description="objects at the last sync; null before the first")
    bytes: int | None = Field(description="bytes at the last sync; null before the first")
    last_synced_at: datetime | None


class BucketOut(BaseModel):
    id: str
    name: str
    provider: str
    region: str
    status: str = Field(description="pending, provisioning, ready, failed, deleting or deleted")
    status_reason: str | None
    endpoint: str | None = Field(description="the S3 endpoint to use with this bucket, once ready")
    usage: UsageOut
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: BucketView) -> BucketOut:
        bucket = view.bucket
        return cls(
            id=bucket.id,
            name=bucket.name,
            provider=view.provider,
            region=view.region,
            status=bucket.status,
            status_reason=bucket.status_reason,
            endpoint=bucket.endpoint,
            usage=UsageOut(
                object_count=bucket.object_count,
                bytes=bucket.bytes,
                last_synced_at=bucket.last_synced_at,
            ),
            created_at=bucket.created_at,
            updated_at=bucket.updated_at,
        )


class BucketList(BaseModel):
    buckets: list[BucketOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class ProjectUsageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    project: str
    buckets: int = Field(description="live buckets")
    object_count: int
    bytes: int
    oldest_sync: datetime | None = Field(description="the least recent last sync among the buckets")

    @classmethod
    def of(cls, usage: ProjectUsage) -> ProjectUsageOut:
        return cls.model_validate(usage)


class OrganizationUsage(BaseModel):
    organization: str
    projects: list[ProjectUsageOut]
    buckets: int
    object_count: int
    bytes: int
