"""The FastAPI application: routers of every domain, problem responses, health and readiness."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

import loopback
from loopback.buckets.routes import router as buckets_router
from loopback.credentials.routes import router as credentials_router
from loopback.kit.errors import install_problem_handlers
from loopback.providers.routes import router as regions_router
from loopback.runtime import Runtime

ReadinessCheck = Callable[[], None]


def create_app(runtime: Runtime, extra_checks: Mapping[str, ReadinessCheck] | None = None) -> FastAPI:
    """Build the API over ``runtime``; ``extra_checks`` join /readyz (the embedded storage, say)."""
    app = FastAPI(
        title="Loopback object storage",
        version=loopback.__version__,
        description="Provision S3-compatible buckets for the projects of organizations.",
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.include_router(regions_router)
    app.include_router(buckets_router)
    app.include_router(credentials_router)

    def check_database() -> None:
        with runtime.db.session() as session:
            session.execute(text("SELECT 1"))

    def check_queue() -> None:
        runtime.automation.pending()

    checks: dict[str, ReadinessCheck] = {"database": check_database, "queue": check_queue}
    checks.update(extra_checks or {})

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process answers; says nothing of what it depends on."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        """The database, the queue and the embedded storage answer; 503 names what does not."""
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as error:
                results[name] = f"failing: {type(error).__name__}: {error}"
        ready = all(result == "ok" for result in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    return app
