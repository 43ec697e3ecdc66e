"""The console decides a page's scope and its header from one read of the caller's reach; these hold
it to the API's own checks (``project_scope``, ``organization_scope``) for every kind of caller."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopback.kit.clock import utcnow
from loopback.kit.errors import LoopbackError
from loopback.kit.ids import new_id
from loopback.runtime import Runtime
from loopback.tenancy.access import (
    Principal,
    admit_project,
    organization_scope,
    project_scope,
    resolve_reach,
)
from loopback.tenancy.models import Membership, Organization, Project, User
from loopback.tenancy.permissions import PERMISSIONS, TENANT_ROLES, permission
from loopback.web.dependencies import places_in, read_reach, resolve_scope
from loopback.web.rendering import Place
from tests.factories import organization

PATHS = (
    ("demo", "default"),
    ("demo", "analytics"),
    ("demo", "retired"),  # deleted
    ("demo", "nowhere"),
    ("other", "default"),  # the same project slug in another organization
    ("other", "tools"),
    ("gone", "default"),  # a deleted organization
    ("nowhere", "default"),
)


def _user(session: Session, memberships: dict[str, str]) -> User:
    user = User(id=new_id("usr"), email=f"{new_id('u')}@example.test")
    session.add(user)
    session.flush()
    for slug, role in memberships.items():
        org = session.scalars(select(Organization).where(Organization.slug == slug)).one()
        session.add(Membership(id=new_id("mem"), organization_id=org.id, user_id=user.id, role=role))
    session.flush()
    return user


def _world(session: Session) -> list[Principal]:
    """Two live organizations and a deleted one, and callers of every kind over them."""
    demo = session.scalars(select(Organization).where(Organization.slug == "demo")).one()
    for slug, deleted in (("analytics", False), ("retired", True)):
        session.add(
            Project(
                id=new_id("prj"),
                organization_id=demo.id,
                slug=slug,
                name=slug.title(),
                deleted_at=utcnow() if deleted else None,
            )
        )
    organization(session, "other", ("default", "tools"))
    gone = organization(session, "gone")
    gone.deleted_at = utcnow()
    session.flush()
    projects = {
        (org.slug, project.slug): (org.id, project.id)
        for org, project in session.execute(
            select(Organization, Project).join(Project, Project.organization_id == Organization.id)
        )
    }

    principals: list[Principal] = []

    def add(user: User, **token: Any) -> None:
        principals.append(Principal(user.id, user.email, new_id("tok"), user.is_operator, **token))

    caps: tuple[str | None, ...] = (None, *TENANT_ROLES)
    for role in TENANT_ROLES:
        user = _user(session, {"demo": role, "other": "viewer", "gone": "owner"})
        for cap in caps:
            add(user, role_cap=cap)
            for org_id, project_id in (projects[("demo", "default")], projects[("demo", "retired")]):
                add(
                    user,
                    token_kind="project",
                    role_cap=cap,
                    token_organization_id=org_id,
                    token_project_id=project_id,
                )
    stranger = _user(session, {})
    add(stranger)
    org_id, project_id = projects[("demo", "default")]
    add(stranger, token_kind="project", token_organization_id=org_id, token_project_id=project_id)  # left
    operator = session.scalars(select(User).where(User.is_operator.is_(True))).first()
    assert operator is not None
    add(operator)
    add(operator, role_cap="viewer")
    return principals


def _outcome(decide: Callable[[], Any]) -> Any:
    try:
        return decide()
    except LoopbackError as error:
        return (type(error).__name__, error.status, error.detail, getattr(error, "permission", None))


def _places_as_before(session: Session, runtime: Runtime, principal: Principal) -> list[Place]:
    """The header's projects as the console listed them before it read them in one statement."""
    if principal.is_project_token:
        org = session.get(Organization, principal.token_organization_id)
        project = session.get(Project, principal.token_project_id)
        if org is None or project is None or org.deleted_at or project.deleted_at:
            return []
        return [Place(org.slug, org.name, project.slug, project.name)]
    found: list[Place] = []
    for org, _role in runtime.tenancy.my_organizations(session, principal):
        try:
            scope = organization_scope(session, principal, org.slug, permission("projects.list"))
        except LoopbackError:
            continue
        found += [Place(org.slug, org.name, p.slug, p.name) for p in runtime.tenancy.projects(session, scope)]
    return found


def test_a_pages_scope_is_the_apis_for_every_caller_path_and_permission(runtime: Runtime) -> None:
    """``project_scope`` is ``admit_project`` over ``resolve_reach``: the reach is read once per
    caller and path (as a request reads it once) and admitted for every permission, and
    ``project_scope`` itself is asked once per caller and path to hold the two alike."""
    with runtime.db.session() as session:
        principals = _world(session)
        session.commit()
        checked = admitted = 0
        first = next(iter(PERMISSIONS.values()))
        for principal in principals:
            reach = read_reach(session, principal)
            for org, project in PATHS:
                narrow = read_reach(session, principal, org, project)  # a page reads it once
                resolved = _outcome(partial(resolve_reach, session, principal, org, project))
                for entry in PERMISSIONS.values():
                    expected = (
                        resolved
                        if isinstance(resolved, tuple)
                        else _outcome(partial(admit_project, principal, resolved, entry))
                    )
                    if entry is first:
                        assert (
                            _outcome(partial(project_scope, session, principal, org, project, entry))
                            == expected
                        )
                    assert _outcome(partial(resolve_scope, reach, principal, org, project, entry)) == expected
                    assert (
                        _outcome(partial(resolve_scope, narrow, principal, org, project, entry)) == expected
                    )
                    checked += 1
                    admitted += not isinstance(expected, tuple)
        assert admitted > 0
        assert checked - admitted > 0


def test_the_header_lists_the_projects_it_listed_before(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        principals = _world(session)
        session.commit()
        for principal in principals:
            listed = places_in(read_reach(session, principal), principal)
            assert listed == _places_as_before(session, runtime, principal), principal
