"""API v3 routes for regions (every tenant's picker) and the operator's configuration of providers.

Every ``/v3/operator/...`` route is for the installation's operator: reading needs
``providers.read``, changing ``providers.manage``. Problems name fields with list indices
(``regions[1].endpoint``), for the body as for the providers file.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from loopback.kit.errors import Invalid
from loopback.kit.services import from_state
from loopback.providers import registry
from loopback.providers.check import CheckResult
from loopback.providers.queries import ProviderView
from loopback.providers.schemas import (
    FAMILY_NAMES,
    CapabilitiesOut,
    CheckOut,
    CheckStepOut,
    OperatorRegionOut,
    PathProblem,
    ProviderCreate,
    ProviderList,
    ProviderOut,
    ProviderTestIn,
    ProviderTestOut,
    ProviderUpdate,
    RegionList,
    RegionOut,
    SlotOut,
    field_path,
    mask,
)
from loopback.providers.service import ProviderService
from loopback.tenancy.access import Principal
from loopback.tenancy.auth import DbSession, ProvidersRead, RegionsRead, requires

ProvidersManage = Annotated[Principal, Depends(requires("providers.manage"))]


ProvidersDep = Annotated[ProviderService, Depends(from_state("providers"))]


class IndexedFieldsRoute(APIRoute):
    """A route whose invalid requests name list items as ``regions[1].endpoint``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as error:
                problems = []
                for e in error.errors():
                    location = list(e["loc"])
                    if location and location[0] in {"body", "query", "path", "header"}:
                        location = location[1:]
                    if location and isinstance(location[0], int):  # a position in unparsable JSON
                        location = []
                    problems.append(PathProblem(field_path(location), str(e["msg"])))
                raise Invalid(problems) from None

        return handle


router = APIRouter(prefix="/v3", route_class=IndexedFieldsRoute)
OPERATOR = "/operator/providers"
ONE = OPERATOR + "/{name}"


@router.get("/regions", response_model=RegionList, tags=["regions"])
def list_regions(
    providers: ProvidersDep,
    session: DbSession,
    _principal: RegionsRead,
    provider: Annotated[str | None, Query(description="only this provider's regions")] = None,
    family: Annotated[
        str | None,
        Query(
            description="only providers of this family (s3, ionos, ...)",
            json_schema_extra={"anyOf": [{"type": "string", "enum": FAMILY_NAMES}, {"type": "null"}]},
        ),
    ] = None,
) -> RegionList:
    """Every enabled region of every enabled provider, ordered for a picker: by the provider's display
    name, then country, then region name. A disabled provider or region is not listed."""
    if family is not None and family not in registry.FAMILIES:
        raise Invalid.field("family", f"unknown family {family!r}; one of {', '.join(registry.FAMILIES)}")
    return RegionList(
        regions=[
            RegionOut(
                provider=c.provider,
                provider_name=c.provider_name,
                family=c.family,
                code=c.code,
                name=c.name,
                country=c.country,
                endpoint=c.endpoint,
                capabilities=CapabilitiesOut.of(c.capabilities),
            )
            for c in providers.regions(session, provider, family)
        ]
    )


def provider_out(view: ProviderView) -> ProviderOut:
    provider = view.provider
    settings = dict(provider.settings)
    overridden = set(settings.get("endpoints", {}))
    if provider.last_check_at is None:
        check = CheckOut(status="unchecked", checked_at=None, error=None)
    else:
        failing = provider.last_check_error is not None
        check = CheckOut(
            status="failing" if failing else "ok",
            checked_at=provider.last_check_at,
            error=provider.last_check_error,
        )
    return ProviderOut(
        name=provider.name,
        family=provider.family,
        display_name=provider.display_name,
        enabled=provider.enabled,
        access_key_id=mask(provider.access_key_id),
        secret_ref=provider.secret_id,
        secrets=dict(settings.get("secret_refs", {})),
        slots=[
            SlotOut(
                name=slot.name,
                access_key_id=mask(slot.access_key_id),
                secret_ref=slot.secret_id,
                organization_id=slot.organization_id,
                project_id=slot.project_id,
            )
            for slot in view.slots
        ],
        settings={k: v for k, v in settings.items() if k not in {"secret_refs", "slots", "endpoints"}},
        capabilities=CapabilitiesOut.of(view.capabilities),
        problem=view.problem,
        regions=[
            OperatorRegionOut(
                code=r.code,
                name=r.name,
                endpoint=r.endpoint,
                country=r.country,
                enabled=r.enabled,
                endpoint_overridden=r.code in overridden,
            )
            for r in view.regions
        ],
        last_check=check,
        created_at=provider.created_at,
        updated_at=provider.updated_at,
    )


def check_out(result: CheckResult) -> ProviderTestOut:
    return ProviderTestOut(
        provider=result.provider,
        region=result.region,
        ok=result.ok,
        checked_at=result.checked_at,
        total_ms=result.total_ms,
        steps=[CheckStepOut(step=s.step, ok=s.ok, ms=s.ms, detail=s.detail) for s in result.steps],
        error=result.error,
    )


@router.get(OPERATOR, response_model=ProviderList, tags=["operator"])
def list_providers(providers: ProvidersDep, session: DbSession, _principal: ProvidersRead) -> ProviderList:
    """Every configured provider with its regions, enabled or not; keys masked, secrets as references."""
    return ProviderList(providers=[provider_out(view) for view in providers.views(session)])


@router.post(OPERATOR, status_code=status.HTTP_201_CREATED, response_model=ProviderOut, tags=["operator"])
def create_provider(
    body: ProviderCreate,
    principal: ProvidersManage,
    providers: ProvidersDep,
    session: DbSession,
    response: Response,
) -> ProviderOut:
    """Configure a provider: family, service key, named secrets, key slots, settings and regions.

    Secrets go to the secret store. Family ``s3`` lists its regions (code, name, endpoint); families
    with built-in regions (ionos, hetzner) get all of theirs, and ``regions`` only enables, disables
    or overrides endpoints. An unknown family is a 422, a name in use a 409.
    """
    provider = providers.create(session, body, principal)
    response.headers["Location"] = f"/v3{OPERATOR}/{provider.name}"
    return provider_out(providers.view(session, provider))


@router.get(ONE, response_model=ProviderOut, tags=["operator"])
def show_provider(
    name: str, providers: ProvidersDep, session: DbSession, _principal: ProvidersRead
) -> ProviderOut:
    """One provider: its regions, capabilities, key slots and last check."""
    return provider_out(providers.view(session, providers.get(session, name)))


@router.patch(ONE, response_model=ProviderOut, tags=["operator"])
def update_provider(
    name: str, body: ProviderUpdate, principal: ProvidersManage, providers: ProvidersDep, session: DbSession
) -> ProviderOut:
    """Change a provider: display name, enabled, settings (merged; null removes one), the service
    key (rotated as a pair), named secrets, key slots, and regions matched by code (enable, disable,
    endpoint override, country; family s3 may add regions). Giving what is there changes nothing."""
    provider = providers.get(session, name)
    providers.update(session, provider, body, principal)
    return provider_out(providers.view(session, provider))


def _set_enabled(
    name: str, enabled: bool, principal: Principal, providers: ProvidersDep, session: DbSession
) -> ProviderOut:
    provider = providers.get(session, name)
    providers.set_enabled(session, provider, enabled, principal)
    return provider_out(providers.view(session, provider))


@router.post(ONE + "/disable", response_model=ProviderOut, tags=["operator"])
def disable_provider(
    name: str, principal: ProvidersManage, providers: ProvidersDep, session: DbSession
) -> ProviderOut:
    """Take no new buckets at this provider; its existing buckets, keys and usage keep working."""
    return _set_enabled(name, False, principal, providers, session)


@router.post(ONE + "/enable", response_model=ProviderOut, tags=["operator"])
def enable_provider(
    name: str, principal: ProvidersManage, providers: ProvidersDep, session: DbSession
) -> ProviderOut:
    """Take new buckets at this provider again."""
    return _set_enabled(name, True, principal, providers, session)


@router.post(ONE + "/test", response_model=ProviderTestOut, tags=["operator"])
def check_provider(
    name: str,
    principal: ProvidersManage,
    providers: ProvidersDep,
    session: DbSession,
    body: ProviderTestIn | None = None,
) -> ProviderTestOut:
    """A round trip through one region: create a scratch bucket, issue a key for it, write, read and
    delete an object with that key, revoke the key, delete the bucket; each step with its latency.

    Answers 200 whether the provider passed or not (``ok`` says which); the outcome is kept as the
    provider's last check, which ``/readyz`` and the operator views report.
    """
    provider = providers.get(session, name)
    result = providers.check(session, provider, body.region if body else None, principal)
    return check_out(result)
