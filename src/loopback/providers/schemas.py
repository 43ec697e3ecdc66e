"""Region shapes of API v3, for pickers."""

from __future__ import annotations

from pydantic import BaseModel, Field

from loopback.providers.models import Provider, Region


class RegionOut(BaseModel):
    provider: str
    family: str
    code: str
    name: str
    endpoint: str


class RegionList(BaseModel):
    regions: list[RegionOut]


class OperatorRegionOut(BaseModel):
    code: str
    name: str
    endpoint: str
    enabled: bool


class ProviderOut(BaseModel):
    """A provider as the operator sees it; its service key shows as a masked id, its secret never."""

    name: str
    family: str
    display_name: str
    enabled: bool
    access_key_id: str | None = Field(description="masked: the first four characters")
    regions: list[OperatorRegionOut]

    @classmethod
    def of(cls, provider: Provider, regions: list[Region]) -> ProviderOut:
        key = provider.access_key_id
        return cls(
            name=provider.name,
            family=provider.family,
            display_name=provider.display_name,
            enabled=provider.enabled,
            access_key_id=f"{key[:4]}…" if key else None,
            regions=[
                OperatorRegionOut(code=r.code, name=r.name, endpoint=r.endpoint, enabled=r.enabled)
                for r in regions
            ],
        )


class ProviderList(BaseModel):
    providers: list[ProviderOut]
