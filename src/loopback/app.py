"""The FastAPI application: routers of every domain, problem responses, health and readiness."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from importlib.resources import files

import anyio.to_thread
from fastapi import Depends, FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.routing import BaseRoute

import loopback
from loopback.billing.routes import router as billing_router
from loopback.buckets.routes import router as buckets_router
from loopback.buckets.routes import usage_router
from loopback.buckets.v2 import router as v2_buckets_router
from loopback.credentials.routes import router as credentials_router
from loopback.kit.idempotency_middleware import IdempotencyMiddleware
from loopback.kit.limits import RequestLimitsMiddleware
from loopback.kit.logs import bind
from loopback.kit.openapi import ProblemDocumentedAPI, document_problems
from loopback.kit.problems import install_problem_handlers
from loopback.kit.requests import RequestIdMiddleware
from loopback.metrics.exposition import CONTENT_TYPE, Exposition
from loopback.providers.routes import router as providers_router
from loopback.quotas.routes import router as quotas_router
from loopback.runtime import Runtime
from loopback.tenancy.access import FailedAuthLimiter, token_authenticates
from loopback.tenancy.access_cache import AccessCache
from loopback.tenancy.auth import PERMISSION_OF
from loopback.tenancy.permissions import Scope, permission
from loopback.tenancy.routes import router as tenancy_router
from loopback.web.routes import router as console_router
from loopback.webhooks.routes import router as webhooks_router

ReadinessCheck = Callable[[], None]


def create_app(runtime: Runtime, extra_checks: Mapping[str, ReadinessCheck] | None = None) -> FastAPI:
    """Build the API over ``runtime``; ``extra_checks`` join /readyz (the embedded storage, say)."""

    @asynccontextmanager
    async def threads_as_connections(_app: FastAPI) -> AsyncIterator[None]:
        """Routes run in at most ``api_threads`` threads, the connections the pool keeps for them."""
        anyio.to_thread.current_default_thread_limiter().total_tokens = runtime.settings.api_threads
        # What startup made (modules, the app, its routes) lives as long as the app: kept out of
        # the collector's generations, no collection walks it again (under load they ran often).
        gc.freeze()
        yield
        gc.unfreeze()  # an app that stops (a test's) can be collected like anything else

    app = ProblemDocumentedAPI(
        lifespan=threads_as_connections,
        dependencies=[Depends(bind_path_ids)],
        title="Loopback object storage",
        version=loopback.__version__,
        description="Provision S3-compatible buckets for the projects of organizations.",
        docs_url=None,  # FastAPI's pages load their assets from a public CDN: ours are served here
        redoc_url=None,
    )
    serve_reference_pages(app)
    app.state.runtime = runtime  # the console's; API routes ask for one service each (kit.services)
    for name in ("db", "secrets", "providers", "buckets", "credentials", "tenancy", "webhooks"):
        setattr(app.state, name, getattr(runtime, name))
    app.state.auth_limiter = FailedAuthLimiter.for_settings(runtime.settings)
    app.state.access_cache = AccessCache(runtime.settings.access_cache_seconds)
    app.add_middleware(
        IdempotencyMiddleware,
        database=runtime.db,
        cipher=runtime.secrets,
        authenticates=lambda authorization: token_authenticates(runtime.db, authorization),
    )
    # Outermost first: every answer gets its id, then no oversized or unstorable request reaches
    # the idempotency store or a route.
    app.add_middleware(RequestLimitsMiddleware, max_body_bytes=runtime.settings.max_request_bytes)
    app.add_middleware(RequestIdMiddleware)
    install_problem_handlers(app)
    # Requests try the routes in this order: buckets first, the calls tenants make most (issue 14).
    # No path of one router is a path of another, so the order changes no answer.
    routers = (
        buckets_router,
        usage_router,
        tenancy_router,
        providers_router,
        billing_router,
        quotas_router,
        credentials_router,
        webhooks_router,
        v2_buckets_router,
    )
    for router in routers:
        label_permissions(router.routes)
        document_problems(router.routes, auth_statuses)  # before including: FastAPI copies them
        app.include_router(router)
    app.include_router(console_router)  # pages, not API: outside the OpenAPI document

    def check_database() -> None:
        with runtime.db.session() as session:
            session.execute(text("SELECT 1"))

    def check_queue() -> None:
        runtime.automation.pending()

    checks: dict[str, ReadinessCheck] = {
        "database": check_database,
        "queue": check_queue,
        "secrets": runtime.check_secrets,  # this process's key opens the installation's canary
    }
    checks.update(extra_checks or {})

    @app.get("/healthz", tags=["health"], openapi_extra={PERMISSION_KEY: PUBLIC})
    def healthz() -> dict[str, str]:
        """The process answers; says nothing of what it depends on."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        openapi_extra={PERMISSION_KEY: PUBLIC},
        responses={503: {"description": "something this process needs does not answer; `checks` says what"}},
    )
    def readyz() -> JSONResponse:
        """The database, the queue, the secret key (it opens the sealed canary) and the embedded storage
        answer; 503 names what does not.

        ``providers`` gives each provider's last round trip (``loopback providers test``): ``ok`` or
        ``failing`` with its time, or ``unchecked``. It is read from the database, never made here,
        and it never turns the answer into a 503: readiness tells a load balancer whether this
        process can serve, and a failing provider fails every instance alike, so taking them out of
        rotation would also stop every other provider's buckets and the API the operator needs to
        fix it. A failing last check makes the status ``degraded`` (still 200) for monitoring to
        alert on; a provider never tested degrades nothing. Error texts stay in the operator's view.
        """
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as error:
                results[name] = f"failing: {type(error).__name__}: {error}"
        ready = all(result == "ok" for result in results.values())
        providers: dict[str, dict[str, str | None]] = {}
        if results.get("database") == "ok":
            try:
                with runtime.db.session() as session:
                    providers = runtime.providers.readiness(session)
            except Exception as error:
                results["providers"] = f"failing: {type(error).__name__}: {error}"
                ready = False
        degraded = any(report["status"] == "failing" for report in providers.values())
        return JSONResponse(
            {
                "status": ("degraded" if degraded else "ready") if ready else "not ready",
                "checks": results,
                "providers": providers,
            },
            status_code=200 if ready else 503,
        )

    document_problems(app.routes, auth_statuses)  # the app's own: /healthz, /readyz
    serve_metrics(app, Exposition(runtime.db, runtime.automation.huey, runtime.settings))
    return app


async def bind_path_ids(request: Request) -> None:
    """The bucket a request names joins its log lines (kit.logs); the organization and project
    ids join them at the scoping point, once resolved from the path's slugs. Async: on the event
    loop, whose context the route's thread is given, not a thread hop of its own per request."""
    bind(bucket_id=request.path_params.get("bucket_id"))


def serve_metrics(app: FastAPI, exposition: Exposition) -> None:
    """``GET /metrics`` for Prometheus: no tenant's token, and outside the tenants' API document;
    limited by the settings' address ranges and token (metrics.guard)."""

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        client = request.client.host if request.client else None
        refused = exposition.guard.refusal(client, request.headers.get("authorization"))
        if refused is not None:
            headers = {"WWW-Authenticate": "Bearer"} if refused == 401 else None
            return PlainTextResponse("refused\n", status_code=refused, headers=headers)
        return Response(exposition.render(), media_type=CONTENT_TYPE)


PERMISSION_KEY = "x-permission"
PUBLIC = "public"
# Swagger UI's and ReDoc's files, as the installed ``fastapi-offline`` package ships them.
REFERENCE_ASSETS = files("fastapi_offline") / "static"
ASSETS_URL = "/docs/assets"


def serve_reference_pages(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` with every script, stylesheet and icon served by this
    app, so the API's reference works on a machine with no internet, as the console does."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(REFERENCE_ASSETS)), name="reference-assets")
    title = f"{app.title} - API reference"
    icon = f"{ASSETS_URL}/favicon.png"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=icon,
            oauth2_redirect_url=None,
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=icon,
            with_google_fonts=False,
        )


def _permission_of(dependant: Dependant) -> str | None:
    if dependant.call is not None and dependant.call in PERMISSION_OF:
        return PERMISSION_OF[dependant.call]
    for child in dependant.dependencies:
        found = _permission_of(child)
        if found is not None:
            return found
    return None


def label_permissions(routes: Iterable[BaseRoute]) -> None:
    """Write each route's permission into its OpenAPI operation, from the dependency that enforces it."""
    for route in routes:
        if isinstance(route, APIRoute):
            name = _permission_of(route.dependant)
            if name is not None:
                route.openapi_extra = {**(route.openapi_extra or {}), PERMISSION_KEY: name}


def auth_statuses(route: APIRoute) -> set[int]:
    """What a route's permission can answer: 401 and 429 for any token, 403 past the table, 404 for
    an organization or project outside the caller's reach."""
    name = (route.openapi_extra or {}).get(PERMISSION_KEY)
    if name is None or name == PUBLIC:
        return set()
    scope = permission(name).scope
    statuses = {401, 429}
    if scope is not Scope.AUTHENTICATED:
        statuses.add(403)
    if scope in (Scope.ORGANIZATION, Scope.PROJECT):
        statuses.add(404)
    return statuses
