"""Named request dependencies: the runtime, a database session, the caller, and permission checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, cast

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from loopback.kit.errors import Forbidden, Unauthorized
from loopback.runtime import Runtime
from loopback.tenancy.permissions import allows
from loopback.tenancy.service import Principal, ProjectScope, authenticate, project_scope

bearer = HTTPBearer(auto_error=False, description="an API token: `Authorization: Bearer lbk_…`")


def get_runtime(request: Request) -> Runtime:
    return cast(Runtime, request.app.state.runtime)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    with runtime.db.session() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]


def current_principal(
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>'")
    return authenticate(session, credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def requires(permission: str) -> Callable[..., ProjectScope]:
    """A dependency resolving the project in the path and checking the caller's role grants ``permission``."""

    def dependency(
        org: Annotated[str, Path(description="organization slug")],
        project: Annotated[str, Path(description="project slug")],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> ProjectScope:
        scope = project_scope(session, principal, org, project)
        if not allows(scope.role, permission):
            raise Forbidden(f"role {scope.role!r} does not grant {permission!r}", permission=permission)
        return scope

    return dependency


BucketsRead = Annotated[ProjectScope, Depends(requires("buckets.read"))]
BucketsCreate = Annotated[ProjectScope, Depends(requires("buckets.create"))]
BucketsDelete = Annotated[ProjectScope, Depends(requires("buckets.delete"))]
CredentialsRead = Annotated[ProjectScope, Depends(requires("credentials.read"))]
CredentialsIssue = Annotated[ProjectScope, Depends(requires("credentials.issue"))]
CredentialsRevoke = Annotated[ProjectScope, Depends(requires("credentials.revoke"))]
UsageRefresh = Annotated[ProjectScope, Depends(requires("usage.refresh"))]
