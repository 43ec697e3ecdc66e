"""Who is calling and what they may reach: token authentication, scopes, failed-attempt limits.

Every tenant query filters by the ``organization_id`` (and ``project_id``) resolved here, so an
identifier in a path never reaches another tenant's rows. Anything outside the caller's reach
answers 404 whether or not it exists; a role too small answers 403 naming the permission.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from loopback.kit.clock import utcnow
from loopback.kit.db import Database, bookkeeping
from loopback.kit.errors import Forbidden, NotFound, TooManyRequests, Unauthorized
from loopback.kit.settings import Settings
from loopback.tenancy import repository
from loopback.tenancy.models import ApiToken
from loopback.tenancy.permissions import Permission, Role, Scope, allows, allows_capped

log = logging.getLogger(__name__)

TOKEN_PREFIX = "lbk_"
LAST_USED_GRANULARITY_SECONDS = 60
WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Principal:
    """The caller: the user behind the token, the token, and the request it arrived with."""

    user_id: str
    email: str
    token_id: str
    is_operator: bool
    token_kind: str = "personal"
    role_cap: str | None = None
    token_organization_id: str | None = None
    token_project_id: str | None = None
    request_id: str | None = None
    client_address: str | None = None

    @property
    def is_project_token(self) -> bool:
        return self.token_kind == "project"


@dataclass(frozen=True)
class OrganizationScope:
    """An organization the caller belongs to, with the role of the token's user there.

    The token's cap (``principal.role_cap``) narrows that role; both were checked for the permission.
    """

    principal: Principal
    organization_id: str
    organization_slug: str
    role: str


@dataclass(frozen=True)
class ProjectScope(OrganizationScope):
    """A project inside an organization scope."""

    project_id: str
    project_slug: str


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str:
    return token[: len(TOKEN_PREFIX) + 6]


def authenticate(
    session: Session, token: str, request_id: str | None = None, client_address: str | None = None
) -> Principal:
    """The principal for a bearer token, or 401 for one that is unknown, revoked or expired.

    One statement reads the token with its user; a second, at most once a minute per token,
    records its last use.
    """
    found = session.execute(repository.token_and_user_by_hash(hash_token(token))).first()
    now = utcnow()
    if found is None or not is_live(found[0], now):
        raise Unauthorized("the token is unknown, revoked or expired")
    row, user = found
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > LAST_USED_GRANULARITY_SECONDS:
        row.last_used_at = now
        with bookkeeping():  # not what an Idempotency-Key's request changed
            session.commit()
    return Principal(
        user_id=user.id,
        email=user.email,
        token_id=row.id,
        is_operator=user.is_operator,
        token_kind=row.kind,
        role_cap=row.role_cap,
        token_organization_id=row.organization_id,
        token_project_id=row.project_id,
        request_id=request_id,
        client_address=client_address,
    )


def is_live(row: ApiToken, now: datetime) -> bool:
    return row.revoked_at is None and (row.expires_at is None or row.expires_at > now)


def live_token(session: Session, token: str) -> ApiToken | None:
    """The stored token a bearer token is, unless it is unknown, revoked or expired."""
    row = session.scalar(repository.token_by_hash(hash_token(token)))
    return row if row is not None and is_live(row, utcnow()) else None


def token_authenticates(database: Database, authorization: str) -> bool:
    """Whether an ``Authorization`` header still carries a live token (for replaying answers)."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    with database.session() as session:
        return live_token(session, token.strip()) is not None


def _refuse(entry: Permission, role: str) -> Forbidden:
    return Forbidden(f"role {role!r} does not grant {entry.name!r}", permission=entry.name)


def check_user(principal: Principal, entry: Permission) -> None:
    """User-scope permissions act on the caller's own account: a project token has none."""
    if entry.scope is Scope.USER and principal.is_project_token:
        raise Forbidden(
            f"a project token acts inside its project only; {entry.name!r} needs a personal token",
            permission=entry.name,
        )


def check_operator(principal: Principal, entry: Permission) -> None:
    """Installation permissions need the operator's own uncapped personal token."""
    if not principal.is_operator or principal.is_project_token or principal.role_cap is not None:
        raise Forbidden(f"{entry.name!r} is for the installation's operator", permission=entry.name)
    if not allows(Role.OPERATOR, entry.name):
        raise _refuse(entry, Role.OPERATOR)


@dataclass(frozen=True)
class Reach:
    """What a token reaches in one organization (and project): ids, slugs and its user's role there.

    Resolved from the database in one statement, remembered briefly (``access_cache``); whether it
    admits a permission is decided anew on every request (``admit_organization``, ``admit_project``).
    """

    organization_id: str
    organization_slug: str
    role: str
    project_id: str | None = None
    project_slug: str | None = None


def resolve_reach(session: Session, principal: Principal, org_slug: str, project_slug: str | None) -> Reach:
    """The organization of the path, the role of the token's user there, and the project when named.

    404 when the organization is not the caller's: missing, deleted, not a member, or another
    organization than a project token's; and alike for a missing project, or for a project token
    any project but its own, whatever the token's cap. A project token acts with its cap and never
    above its user's current role, so demoting or removing the user who made it narrows or stops it.
    """
    statement = repository.reach(
        principal.user_id, principal.token_organization_id, principal.token_project_id, org_slug, project_slug
    )
    found = session.execute(statement.limit(1)).first()
    if found is None or found[1] is None:
        raise NotFound(f"organization {org_slug!r} does not exist")
    organization, role, project = found
    if project_slug is not None and project is None:
        raise NotFound(f"project {project_slug!r} does not exist in organization {org_slug!r}")
    return Reach(
        organization.id,
        organization.slug,
        role,
        project.id if project_slug is not None else None,
        project.slug if project_slug is not None else None,
    )


def _admit(principal: Principal, entry: Permission, role: str) -> None:
    cap = principal.role_cap
    if principal.is_project_token and cap is None:
        cap = Role.VIEWER
    if not allows(role, entry.name):
        raise _refuse(entry, role)
    if not allows_capped(role, cap, entry.name):
        raise Forbidden(
            f"this token is capped at {cap!r}, which does not grant {entry.name!r}", permission=entry.name
        )


def admit_organization(principal: Principal, reach: Reach, entry: Permission) -> OrganizationScope:
    """The caller's scope in an organization when its role (and the token's cap) grant ``entry``."""
    if principal.is_project_token and entry.scope is Scope.ORGANIZATION:
        raise Forbidden(
            f"a project token acts inside its project only; {entry.name!r} is an organization permission",
            permission=entry.name,
        )
    _admit(principal, entry, reach.role)
    return OrganizationScope(principal, reach.organization_id, reach.organization_slug, reach.role)


def admit_project(principal: Principal, reach: Reach, entry: Permission) -> ProjectScope:
    """The caller's scope in a project when its role (and the token's cap) grant ``entry``."""
    if reach.project_id is None or reach.project_slug is None:
        raise TypeError("a project scope needs a reach resolved with a project")
    _admit(principal, entry, reach.role)
    return ProjectScope(
        principal=principal,
        organization_id=reach.organization_id,
        organization_slug=reach.organization_slug,
        role=reach.role,
        project_id=reach.project_id,
        project_slug=reach.project_slug,
    )


def organization_scope(
    session: Session, principal: Principal, org_slug: str, entry: Permission
) -> OrganizationScope:
    """The caller's scope in an organization, checked against ``entry``; 404 when it is not theirs."""
    return admit_organization(principal, resolve_reach(session, principal, org_slug, None), entry)


def project_scope(
    session: Session, principal: Principal, org_slug: str, project_slug: str, entry: Permission
) -> ProjectScope:
    """The caller's scope in a project; 404 alike for a missing project and one out of reach."""
    return admit_project(principal, resolve_reach(session, principal, org_slug, project_slug), entry)


class FailureWindow(Protocol):
    """Where failed authentications are counted: this process, or Redis for every replica."""

    def admit(self, address: str, now: float, limit: int) -> float:
        """Count one failure of ``address`` unless it has ``limit`` already; 0, or seconds to wait."""
        ...


class MemoryWindow:
    """A sliding minute per address, kept in this process: each replica counts its own."""

    MAX_ADDRESSES = 10_000

    def __init__(self) -> None:
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def admit(self, address: str, now: float, limit: int) -> float:
        with self._lock:
            if len(self._failures) > self.MAX_ADDRESSES:  # forget addresses whose minute is over
                for quiet in [a for a, times in self._failures.items() if times[-1] <= now - WINDOW_SECONDS]:
                    del self._failures[quiet]
            failures = self._failures[address]
            while failures and failures[0] <= now - WINDOW_SECONDS:
                failures.popleft()
            if len(failures) >= limit:
                return failures[0] + WINDOW_SECONDS - now
            failures.append(now)
            return 0.0


# One round trip, atomic: drop failures older than the window, refuse when it is full, else add one.
_ADMIT_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tostring(oldest[2] + ARGV[2] - ARGV[1])
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(ARGV[2] * 1000))
return '0'
"""


class RedisWindow:
    """A sliding minute per address in Redis (a sorted set of failure times), shared by every replica.

    Keys are ``<queue name>:auth-failures:<address>``, so installations sharing one Redis count
    apart. While Redis does not answer, failures are counted in this process instead: a valid
    token never depends on the limiter, and guessing stays limited per replica.
    """

    def __init__(self, url: str, namespace: str) -> None:
        import redis  # a process whose queue is not on Redis never loads it (about 14 MiB)

        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._client.register_script(_ADMIT_SCRIPT)
        self._namespace = namespace
        self._fallback = MemoryWindow()

    def admit(self, address: str, now: float, limit: int) -> float:
        import redis

        key = f"{self._namespace}:auth-failures:{address}"
        try:
            waited = self._script(
                keys=[key], args=[now, WINDOW_SECONDS, limit, f"{now}:{secrets.token_hex(4)}"]
            )
        except redis.RedisError:
            log.warning(
                "Redis did not count a failed authentication; counting it in this process", exc_info=True
            )
            return self._fallback.admit(address, now, limit)
        return float(waited.decode() if isinstance(waited, bytes) else waited)


class FailedAuthLimiter:
    """At most ``limit`` failed authentications per client address in a sliding minute.

    Only failures are limited: a valid token authenticates whatever its address did before, and
    the limiter is asked only after a token failed (or none was sent to a route that needs one),
    turning that 401 into a 429 once the address has used up its failures. With Redis (a
    ``redis://`` queue URL) every API replica counts in one window; otherwise each process counts
    its own, so N replicas admit up to N times the limit.
    """

    def __init__(self, limit: int, window: FailureWindow | None = None) -> None:
        self.limit = limit
        self.window: FailureWindow = window or MemoryWindow()
        self.clock: Callable[[], float] = time.time

    @classmethod
    def for_settings(cls, settings: Settings) -> FailedAuthLimiter:
        """In Redis when the queue is there (every replica shares it), else in this process."""
        url = settings.queue_url
        if url and url.startswith(("redis://", "rediss://", "unix://")):
            return cls(settings.auth_failures_per_minute, RedisWindow(url, settings.queue_name))
        return cls(settings.auth_failures_per_minute)

    def failed(self, address: str) -> None:
        """Count a failed authentication; 429 with ``Retry-After`` once ``address`` has none left."""
        wait = self.window.admit(address, self.clock(), self.limit)
        if wait > 0:
            seconds = max(math.ceil(wait), 1)
            raise TooManyRequests(
                f"too many failed authentications from {address}; try again in {seconds} s",
                retry_after=seconds,
            )
