"""API v3 routes for regions (every tenant's picker) and the operator's view of providers."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from loopback.providers.schemas import ProviderList, ProviderOut, RegionList, RegionOut
from loopback.tenancy.auth import DbSession, ProvidersRead, RegionsRead, RuntimeDep

router = APIRouter(prefix="/v3")


@router.get("/regions", response_model=RegionList, tags=["regions"])
def list_regions(runtime: RuntimeDep, session: DbSession, _principal: RegionsRead) -> RegionList:
    """Every enabled region of every enabled provider, ordered for a picker."""
    choices = runtime.providers.regions(session)
    return RegionList(regions=[RegionOut(**asdict(choice)) for choice in choices])


@router.get("/operator/providers", response_model=ProviderList, tags=["operator"])
def list_providers(runtime: RuntimeDep, session: DbSession, _principal: ProvidersRead) -> ProviderList:
    """Every configured provider with its regions, enabled or not; for the installation's operator."""
    return ProviderList(
        providers=[
            ProviderOut.of(provider, regions) for provider, regions in runtime.providers.providers(session)
        ]
    )
