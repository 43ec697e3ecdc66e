"""Region shapes of API v3, for pickers."""

from __future__ import annotations

from pydantic import BaseModel


class RegionOut(BaseModel):
    provider: str
    family: str
    code: str
    name: str
    endpoint: str


class RegionList(BaseModel):
    regions: list[RegionOut]
