"""Quota shapes of API v3: the values a level sets, and what applies with the use it is measured against."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from loopback.quotas.service import Applied, Source

BIGGEST = 10**18  # an exabyte: above any real quota, and exact in any JSON reader


def _a_count(value: object) -> object:
    """A whole number as JSON writes it (``3``, ``3.0``); ``true`` is none, though a bool is an int."""
    if isinstance(value, bool):
        raise ValueError("give a whole number, or null to inherit")
    return value


Count = Annotated[int | None, BeforeValidator(_a_count)]
ENFORCED = ["buckets", "bucket_bytes", "bucket_objects", "project_bytes", "project_objects"]


def _value(description: str) -> int | None:
    return Field(default=None, ge=0, le=BIGGEST, description=description + "; null or left out: inherit")


class QuotaValues(BaseModel):
    """A level's own quotas, all at once: a value left out (or null) takes the next level's."""

    model_config = ConfigDict(extra="forbid")

    buckets: Count = _value("buckets per project (enforced at create)")
    bucket_bytes: Count = _value("bytes per bucket (enforced after each usage sync)")
    bucket_objects: Count = _value("objects per bucket (enforced after each usage sync)")
    project_bytes: Count = _value("bytes per project (enforced after each usage sync)")
    project_objects: Count = _value("objects per project (enforced after each usage sync)")


class Quota(BaseModel):
    own: int | None = Field(description="this level's own value; null: it inherits")
    limit: int | None = Field(description="the value in force; null: unlimited")
    source: Source | None = Field(description="the level the value in force comes from")

    @classmethod
    def of(cls, applied: Applied) -> Quota:
        return cls(own=applied.own, limit=applied.limit, source=applied.source)


class QuotaUse(BaseModel):
    buckets: int = Field(description="buckets not yet deleted")
    objects: int = Field(description="objects of those buckets, as of their last usage sync")
    bytes: int = Field(description="bytes of those buckets, as of their last usage sync")


class Quotas(BaseModel):
    organization: str
    project: str | None = Field(description="the project, for a project's quotas")
    quotas: dict[str, Quota] = Field(
        description="buckets (per project), bucket_bytes, bucket_objects, project_bytes, project_objects"
    )
    use: QuotaUse = Field(description="the project's use, or the organization's projects' together")
    enforced: list[str] = Field(
        default=ENFORCED,
        description="the quotas checked: buckets at create, bytes and objects after a usage sync",
    )

    @classmethod
    def of(
        cls, organization: str, project: str | None, applied: dict[str, Applied], use: tuple[int, int, int]
    ) -> Quotas:
        buckets, objects, size = use
        return cls(
            organization=organization,
            project=project,
            quotas={name: Quota.of(value) for name, value in applied.items()},
            use=QuotaUse(buckets=buckets, objects=objects, bytes=size),
        )
