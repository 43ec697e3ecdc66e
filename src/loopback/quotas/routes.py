"""API v3 routes for quotas: an organization's (set by the operator) and a project's (owners, admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from loopback.kit.openapi import problems
from loopback.quotas.schemas import Quotas, QuotaValues
from loopback.quotas.service import Quotas as QuotaService
from loopback.tenancy.access import OrganizationScope, Principal, ProjectScope
from loopback.tenancy.auth import DbSession, requires

router = APIRouter(prefix="/v3/organizations/{org}", tags=["quotas"])

QuotasRead = Annotated[OrganizationScope, Depends(requires("quotas.read"))]
QuotasManage = Annotated[Principal, Depends(requires("quotas.manage"))]
ProjectQuotasRead = Annotated[ProjectScope, Depends(requires("project_quotas.read"))]
ProjectQuotasManage = Annotated[ProjectScope, Depends(requires("project_quotas.manage"))]


async def quota_service(request: Request) -> QuotaService:
    """The quotas the bucket service checks, so what the API shows is what a create is held to."""
    quotas = request.app.state.buckets.quota
    if not isinstance(quotas, QuotaService):
        raise RuntimeError("the bucket service checks no quotas: Runtime.from_settings plugs them in")
    return quotas


QuotasDep = Annotated[QuotaService, Depends(quota_service)]


@router.get("/quotas", response_model=Quotas)
def organization_quotas(scope: QuotasRead, session: DbSession, quotas: QuotasDep) -> Quotas:
    """The organization's quotas as they apply, and its projects' use together."""
    applied = quotas.of_organization(session, scope)
    return Quotas.of(scope.organization_slug, None, applied, quotas.use(session, scope))


@router.put("/quotas", response_model=Quotas, responses=problems(404, 422))
def set_organization_quotas(
    principal: QuotasManage,
    org: Annotated[str, Path(description="organization slug")],
    body: QuotaValues,
    session: DbSession,
    quotas: QuotasDep,
) -> Quotas:
    """The operator sets an organization's quotas, all at once; one left out takes the installation's."""
    organization = quotas.set_for_organization(session, principal, org, body.model_dump())
    applied = quotas.of_organization(session, organization)
    return Quotas.of(org, None, applied, quotas.use(session, organization))


@router.get("/projects/{project}/quotas", response_model=Quotas)
def project_quotas(scope: ProjectQuotasRead, session: DbSession, quotas: QuotasDep) -> Quotas:
    """The project's quotas as they apply (its own, else the organization's, else the installation's)
    and its use."""
    applied = quotas.of_project(session, scope)
    return Quotas.of(scope.organization_slug, scope.project_slug, applied, quotas.use(session, scope))


@router.put(
    "/projects/{project}/quotas",
    response_model=Quotas,
    responses=problems(422, s422="a value is above the organization's quota, or not a count"),
)
def set_project_quotas(
    scope: ProjectQuotasManage, body: QuotaValues, session: DbSession, quotas: QuotasDep
) -> Quotas:
    """Owners and admins set the project's quotas, all at once, none above the organization's."""
    quotas.set_for_project(session, scope, body.model_dump())
    applied = quotas.of_project(session, scope)
    return Quotas.of(scope.organization_slug, scope.project_slug, applied, quotas.use(session, scope))
