"""Bucket shapes of API v3."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator
from sqlalchemy import RowMapping

from loopback.buckets.models import INSTALL_LENGTHS, BucketStatus
from loopback.buckets.service import BucketView, InstallLink, ProjectUsage

# The rules of buckets.naming the document can say: 3 to 63 characters, labels of lowercase
# letters and digits (hyphens inside) joined by single dots. An IP address or a reserved prefix
# or suffix is refused as well (422 naming the field).
NAME_RULES: dict[str, JsonValue] = {
    "minLength": 3,
    "maxLength": 63,
    "pattern": r"^[a-z0-9](?:-*[a-z0-9])*(?:\.[a-z0-9](?:-*[a-z0-9])*)*$",
}
NAME_DESCRIPTION = "S3 bucket name: 3-63 lowercase letters, digits, hyphens and dots"
POLICY_RULES: dict[str, JsonValue] = {"enum": ["delete", "retain"]}


INSTALL_DESCRIPTIONS = {
    "catalog_item": "the catalog entry installed (an application of the catalog)",
    "release": "the install's release name",
    "cluster": "the Kubernetes cluster it runs in",
    "namespace": "its Kubernetes namespace",
    "claim": "the BucketClaim (or other object) that asked for the bucket",
}


def _install_part(part: str) -> Any:
    return Field(
        default=None, min_length=1, max_length=INSTALL_LENGTHS[part], description=INSTALL_DESCRIPTIONS[part]
    )


class InstallLinkIn(BaseModel):
    """The catalog-driven Kubernetes install a bucket is made for. Each part is optional, but a
    link names one at least (an empty one is refused: leave ``install`` out for no link)."""

    model_config = ConfigDict(extra="forbid")

    catalog_item: str | None = _install_part("catalog_item")
    release: str | None = _install_part("release")
    cluster: str | None = _install_part("cluster")
    namespace: str | None = _install_part("namespace")
    claim: str | None = _install_part("claim")

    @model_validator(mode="after")
    def _names_one(self) -> InstallLinkIn:
        if not self.link().parts():
            raise ValueError(
                "an install link names one part at least (catalog_item, release, cluster, namespace "
                "or claim); leave install out for no link"
            )
        return self

    def link(self) -> InstallLink:
        return InstallLink(**self.model_dump())


def link_of(install: InstallLinkIn | None) -> InstallLink | None:
    return install.link() if install else None


class InstallLinkOut(BaseModel):
    """A bucket's install link: every part, null where the link does not name it."""

    catalog_item: str | None = Field(description=INSTALL_DESCRIPTIONS["catalog_item"])
    release: str | None = Field(description=INSTALL_DESCRIPTIONS["release"])
    cluster: str | None = Field(description=INSTALL_DESCRIPTIONS["cluster"])
    namespace: str | None = Field(description=INSTALL_DESCRIPTIONS["namespace"])
    claim: str | None = Field(description=INSTALL_DESCRIPTIONS["claim"])


INSTALL_FIELD = "the catalog-driven Kubernetes install the bucket is made for; leave out for none"


class BucketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description=NAME_DESCRIPTION, max_length=255, json_schema_extra=NAME_RULES)
    provider: str = Field(description="provider name, as GET /v3/regions lists it", max_length=63)
    region: str = Field(description="region code of that provider", max_length=63)
    deletion_policy: str = Field(
        default="delete",
        max_length=20,
        description="delete: deleting the record deletes the bucket; retain: it releases the record only",
        json_schema_extra=POLICY_RULES,
    )
    install: InstallLinkIn | None = Field(default=None, description=INSTALL_FIELD)


class BucketReplace(BaseModel):
    """Where the replacement goes; each field left out keeps the old bucket's."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        default=None,
        max_length=255,
        description=NAME_DESCRIPTION,
        json_schema_extra={"anyOf": [{"type": "string", **NAME_RULES}, {"type": "null"}]},
    )
    provider: str | None = Field(default=None, max_length=63)
    region: str | None = Field(default=None, max_length=63)


class BucketAdopt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        max_length=255, description="the bucket's name at the provider", json_schema_extra=NAME_RULES
    )
    provider: str = Field(max_length=63)
    region: str = Field(max_length=63)
    install: InstallLinkIn | None = Field(default=None, description=INSTALL_FIELD)


class BucketValidation(BaseModel):
    valid: bool = Field(description="true: a create with this body would be accepted now")
    name: str
    provider: str
    region: str
    endpoint: str = Field(description="the endpoint the bucket would get")


class BucketEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str = Field(
        description="created, provisioning, ready, retry, failed, lost, superseded, deleted ..."
    )
    status: str = Field(description="the bucket's status after it")
    reason: str | None
    created_at: datetime


class BucketEventList(BaseModel):
    events: list[BucketEventOut]


class UsageOut(BaseModel):
    object_count: int | None = Field(
        description="objects stored at the last sync, as providers bill them: every version, "
        "noncurrent ones too, and every uploaded part of an unfinished multipart upload; "
        "null before the first"
    )
    bytes: int | None = Field(
        description="bytes of those objects and parts at the last sync; null before the first"
    )
    last_synced_at: datetime | None


class QuotaOut(BaseModel):
    """The bucket against the bytes or objects quota nearest its limit, as of its last usage sync."""

    quota: str = Field(description="bucket_bytes, bucket_objects, project_bytes or project_objects")
    limit: int
    used: int = Field(description="the bucket's (or for a project quota, the project's) bytes or objects")
    state: str = Field(
        description="ok under 80% of the limit; warning from 80%; exceeded at or over it, when its keys "
        "read and delete but write nothing until it is back under (docs/quotas.md)"
    )


class BucketOut(BaseModel):
    id: str
    name: str
    provider: str
    region: str
    status: str = Field(description="pending, provisioning, ready, failed, lost, deleting or deleted")
    status_reason: str | None
    endpoint: str | None = Field(
        description="the S3 endpoint to use with this bucket, once ready; null once deleted"
    )
    usage: UsageOut | None = Field(description="objects and bytes at the last sync; null once deleted")
    created_at: datetime
    updated_at: datetime
    supersedes: str | None = Field(description="the bucket id this row replaced")
    superseded_by: str | None = Field(description="the bucket id that replaced this row")
    deletion_policy: str
    attempts: int = Field(description="failed attempts at the current change; reset when it succeeds")
    next_attempt_at: datetime | None = Field(description="when a transient failure is retried")
    adopted: bool = Field(description="brought under the project from an existing provider bucket")
    install: InstallLinkOut | None = Field(
        description="the catalog-driven Kubernetes install the bucket was made for; null for none"
    )
    quota: QuotaOut | None = Field(
        default=None, description="where it stands against its bytes or objects quota; null for none"
    )

    @classmethod
    def of(cls, view: BucketView) -> BucketOut:
        return cls._shown(functools.partial(getattr, view.bucket), view.provider, view.region)

    @classmethod
    def json_of(cls, row: RowMapping) -> bytes:
        """The JSON of one bucket read as a Core row (``repository.SHOWN`` with ``provider`` and
        ``region``), as ``of`` would answer it: built and checked once, in the caller's thread."""
        out = cls._shown(row.__getitem__, row["provider"], row["region"])
        return cls.__pydantic_serializer__.to_json(out)

    @classmethod
    def _shown(cls, column: Callable[[str], Any], provider: str, region: str) -> BucketOut:
        """A bucket from its columns by name (an ORM row's attributes or a Core row's keys); a
        deleted one holds nothing a tenant can reach, so it shows no endpoint and no usage."""
        gone = column("status") == BucketStatus.DELETED
        return cls(
            id=column("id"),
            name=column("name"),
            provider=provider,
            region=region,
            status=column("status"),
            status_reason=column("status_reason"),
            endpoint=None if gone else column("endpoint"),
            usage=None
            if gone
            else UsageOut(
                object_count=column("object_count"),
                bytes=column("bytes"),
                last_synced_at=column("last_synced_at"),
            ),
            created_at=column("created_at"),
            updated_at=column("updated_at"),
            supersedes=column("supersedes_id"),
            superseded_by=column("superseded_by_id"),
            deletion_policy=column("deletion_policy"),
            attempts=column("attempts"),
            next_attempt_at=column("next_attempt_at"),
            adopted=column("adopted"),
            install=_install_out(InstallLink.of(column)),
            quota=None if gone or not column("quota_state") else _quota_out(column),
        )


def _quota_out(column: Callable[[str], Any]) -> QuotaOut:
    return QuotaOut(
        quota=column("quota_name"),
        limit=column("quota_limit"),
        used=column("quota_used"),
        state=column("quota_state"),
    )


def _install_out(link: InstallLink | None) -> InstallLinkOut | None:
    return InstallLinkOut(**dataclasses.asdict(link)) if link else None


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
