"""Named request dependencies: the runtime, a database session, the caller, and permission checks.

``requires(name)`` is the only way a route reaches tenant data: it authenticates, resolves the
organization and project of the path as the permission's scope says, checks the table, and
records a refused change in the audit log. ``PERMISSION_OF`` lets the app label every route's
OpenAPI operation with its permission (``x-permission``), which the isolation test walks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from loopback.kit.db import Database, bookkeeping
from loopback.kit.errors import Forbidden, Unauthorized
from loopback.kit.requests import request_id_of
from loopback.kit.services import from_state
from loopback.tenancy import audit, repository
from loopback.tenancy.access import (
    FailedAuthLimiter,
    OrganizationScope,
    Principal,
    ProjectScope,
    Reach,
    admit_organization,
    admit_project,
    authenticate,
    check_operator,
    check_user,
    hash_token,
    resolve_reach,
)
from loopback.tenancy.access_cache import AccessCache
from loopback.tenancy.models import Project
from loopback.tenancy.permissions import Permission, Scope, permission

bearer = HTTPBearer(auto_error=False, description="an API token: `Authorization: Bearer lbk_…`")

PERMISSION_OF: dict[Callable[..., Any], str] = {}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")


async def get_session(db: Annotated[Database, Depends(from_state("db"))]) -> AsyncIterator[Session]:
    """The request's session. Opening one does no I/O, so it happens on the event loop; so does
    closing one that never began a transaction. Closing one that did gives its connection back
    to the pool (a rollback), in a worker thread."""
    sessions = db.request_session()
    session = sessions.__enter__()
    try:
        yield session
    except BaseException as error:
        await _close(session, sessions.__exit__, type(error), error, error.__traceback__)
        raise
    await _close(session, sessions.__exit__, None, None, None)


async def _close(session: Session, close: Callable[..., object], *args: Any) -> None:
    if session.in_transaction():
        await run_in_threadpool(close, *args)
    else:
        close(*args)


DbSession = Annotated[Session, Depends(get_session)]
Db = Annotated[Database, Depends(from_state("db"))]


async def in_session(db: Database, work: Callable[[Session], T]) -> T:
    """``work`` in a request session that is opened, used and closed in one worker thread: the one
    hop off the event loop of an ``async`` route, where a ``def`` route over ``DbSession`` takes
    three (itself, FastAPI's check of its answer in another thread, and closing the session).

    ``work`` answers what the response is made of, never rows: closing the session expires them.
    A change it leaves uncommitted is ``UncommittedChange``, as in any request session.
    """

    def run() -> T:
        with db.request_session() as session:
            return work(session)

    return await run_in_threadpool(run)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def access_cache(request: Request) -> AccessCache:
    return cast(AccessCache, request.app.state.access_cache)


def database(request: Request) -> Database:
    return cast(Database, request.app.state.db)


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """The caller of a route that needs a token; only failures count toward the address's limit.

    A valid token authenticates whatever its address did before; a missing, unknown, revoked or
    expired one answers 401, or 429 once the address has used up its failed attempts. A token seen
    within the last second is answered from the access cache, with no statement and no thread;
    another is read in a session of its own, in one worker thread, once for all the requests that
    miss it together (``AccessCache.remember``).
    """
    limiter = cast(FailedAuthLimiter, request.app.state.auth_limiter)
    address = client_address(request)
    request_id = request_id_of(request.scope)
    if credentials is None:
        await run_in_threadpool(limiter.failed, address)
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>'")
    token = credentials.credentials

    async def read() -> Principal:
        return await in_session(database(request), lambda session: authenticate(session, token))

    try:
        principal = await access_cache(request).remember(("token", hash_token(token)), read)
    except Unauthorized:
        await run_in_threadpool(limiter.failed, address)
        raise
    return replace(principal, request_id=request_id, client_address=address)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def record_refusal(
    request: Request,
    principal: Principal,
    entry: Permission,
    error: Forbidden,
    org_slug: str | None,
    project_slug: str | None = None,
) -> None:
    """A refused change is worth an audit event of its own; refused reads are not recorded."""
    if request.method in SAFE_METHODS:
        return
    db = cast(Database, request.app.state.db)
    with bookkeeping(), db.session() as session:  # a refusal changes nothing of the request's
        organization_id = None
        if org_slug is not None:
            organization_id = session.scalar(repository.live_organization_id(org_slug))
        project_id = None
        if organization_id is not None and project_slug is not None:
            project_id = session.scalar(
                repository.project_in(
                    repository.InOrganization(organization_id), project_slug
                ).with_only_columns(Project.id)
            )
        audit.record(
            session,
            principal,
            entry.name,
            organization_id=organization_id,
            project_id=project_id,
            target=request.url.path,
            outcome=audit.DENIED,
            detail=error.detail,
        )


def requires(name: str) -> Callable[..., Any]:
    """A dependency that admits the caller to ``name`` and returns what its scope resolves."""
    entry = permission(name)

    async def for_principal(request: Request, principal: CurrentPrincipal) -> Principal:
        try:
            if entry.scope is Scope.USER:
                check_user(principal, entry)
            elif entry.scope is Scope.INSTALLATION:
                check_operator(principal, entry)
        except Forbidden as error:
            await run_in_threadpool(record_refusal, request, principal, entry, error, None)
            raise
        return principal

    async def reach_of(request: Request, principal: Principal, org: str, project: str | None) -> Reach:
        async def read() -> Reach:
            return await in_session(
                database(request), lambda session: resolve_reach(session, principal, org, project)
            )

        return await access_cache(request).remember(("reach", principal.token_id, org, project), read)

    async def for_organization(
        request: Request,
        org: Annotated[str, Path(description="organization slug")],
        principal: CurrentPrincipal,
    ) -> OrganizationScope:
        reach = await reach_of(request, principal, org, None)
        try:
            return admit_organization(principal, reach, entry)
        except Forbidden as error:
            await run_in_threadpool(record_refusal, request, principal, entry, error, org)
            raise

    async def for_project(
        request: Request,
        org: Annotated[str, Path(description="organization slug")],
        project: Annotated[str, Path(description="project slug")],
        principal: CurrentPrincipal,
    ) -> ProjectScope:
        reach = await reach_of(request, principal, org, project)
        try:
            return admit_project(principal, reach, entry)
        except Forbidden as error:
            await run_in_threadpool(record_refusal, request, principal, entry, error, org, project)
            raise

    by_scope: dict[Scope, Callable[..., Any]] = {
        Scope.AUTHENTICATED: for_principal,
        Scope.USER: for_principal,
        Scope.INSTALLATION: for_principal,
        Scope.ORGANIZATION: for_organization,
        Scope.PROJECT: for_project,
    }
    dependency = by_scope[entry.scope]
    PERMISSION_OF[dependency] = name
    return dependency


RegionsRead = Annotated[Principal, Depends(requires("regions.read"))]
TokenRead = Annotated[Principal, Depends(requires("token.read"))]
UserRead = Annotated[Principal, Depends(requires("user.read"))]
OrganizationsCreate = Annotated[Principal, Depends(requires("organizations.create"))]
PersonalTokens = Annotated[Principal, Depends(requires("tokens.personal"))]
ProvidersRead = Annotated[Principal, Depends(requires("providers.read"))]

OrganizationRead = Annotated[OrganizationScope, Depends(requires("organization.read"))]
OrganizationRename = Annotated[OrganizationScope, Depends(requires("organization.rename"))]
OrganizationDelete = Annotated[OrganizationScope, Depends(requires("organization.delete"))]
UsageRead = Annotated[OrganizationScope, Depends(requires("usage.read"))]
BillingRead = Annotated[OrganizationScope, Depends(requires("billing.read"))]
MembersRead = Annotated[OrganizationScope, Depends(requires("members.read"))]
MembersManage = Annotated[OrganizationScope, Depends(requires("members.manage"))]
ProjectsList = Annotated[OrganizationScope, Depends(requires("projects.list"))]
ProjectsCreate = Annotated[OrganizationScope, Depends(requires("projects.create"))]
TokensRead = Annotated[OrganizationScope, Depends(requires("tokens.read"))]
TokensManage = Annotated[OrganizationScope, Depends(requires("tokens.manage"))]
AuditRead = Annotated[OrganizationScope, Depends(requires("audit.read"))]

ProjectsRead = Annotated[ProjectScope, Depends(requires("projects.read"))]
ProjectsManage = Annotated[ProjectScope, Depends(requires("projects.manage"))]
BucketsRead = Annotated[ProjectScope, Depends(requires("buckets.read"))]
BucketsCreate = Annotated[ProjectScope, Depends(requires("buckets.create"))]
BucketsDelete = Annotated[ProjectScope, Depends(requires("buckets.delete"))]
CredentialsRead = Annotated[ProjectScope, Depends(requires("credentials.read"))]
CredentialsIssue = Annotated[ProjectScope, Depends(requires("credentials.issue"))]
CredentialsRevoke = Annotated[ProjectScope, Depends(requires("credentials.revoke"))]
UsageRefresh = Annotated[ProjectScope, Depends(requires("usage.refresh"))]
