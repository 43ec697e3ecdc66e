"""API v3 routes for regions."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from loopback.providers.schemas import RegionList, RegionOut
from loopback.tenancy.auth import CurrentPrincipal, DbSession, RuntimeDep

router = APIRouter(prefix="/v3", tags=["regions"])


@router.get("/regions", response_model=RegionList)
def list_regions(runtime: RuntimeDep, session: DbSession, _principal: CurrentPrincipal) -> RegionList:
    """Every enabled region of every enabled provider, ordered for a picker."""
    choices = runtime.providers.regions(session)
    return RegionList(regions=[RegionOut(**asdict(choice)) for choice in choices])
