"""Quotas: what each level sets, what applies to a project, and the check a bucket create holds.

A quota's value comes from the project's own, else its organization's, else the installation's
settings (``LOOPBACK_QUOTA_*``); none anywhere is unlimited. A project's own value is never above its
organization's: setting one above is refused, and one the operator later lowers the organization's
below applies as the organization's. The bucket count is held at create and adopt; bytes and
objects after each usage sync, by ``credentials.quota_enforcement``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy.orm import Session

from loopback.kit.clock import utcnow
from loopback.kit.errors import FieldProblem, Invalid, NotFound
from loopback.kit.scoping import Scope
from loopback.kit.settings import Settings
from loopback.quotas import repository
from loopback.quotas.models import NAMES, OrganizationQuotas, ProjectQuotas, QuotaColumns
from loopback.tenancy import audit
from loopback.tenancy import repository as tenancy_repository
from loopback.tenancy.access import Principal, ProjectScope

Values = dict[str, int | None]


class Source(enum.StrEnum):
    PROJECT = "project"
    ORGANIZATION = "organization"
    INSTALLATION = "installation"


@dataclass(frozen=True)
class Applied:
    """One quota as it applies: the level's own value, the one in force and where that comes from."""

    own: int | None
    limit: int | None
    source: Source | None


def _own(row: QuotaColumns | None) -> Values:
    return {name: getattr(row, name) if row is not None else None for name in NAMES}


def _tighter(own: int | None, bound: Applied) -> tuple[int | None, Source | None]:
    if own is None or (bound.limit is not None and bound.limit < own):
        return bound.limit, bound.source
    return own, Source.PROJECT


@dataclass(frozen=True)
class ProjectRef:
    """A project the worker names by its ids (a bucket's), with no caller: for ``of_project``."""

    organization_id: str
    project_id: str


@dataclass(frozen=True)
class OrganizationRef:
    """An organization the operator named by its slug: a scope for ``readable``."""

    organization_id: str
    organization_slug: str


class Quotas:
    """The quotas of an installation: its defaults from settings, and the levels' own in the database."""

    def __init__(self, defaults: Values) -> None:
        self.defaults = {name: defaults.get(name) for name in NAMES}

    @classmethod
    def from_settings(cls, settings: Settings) -> Quotas:
        return cls({name: getattr(settings, f"quota_{name}") for name in NAMES})

    # --- what applies ----------------------------------------------------------------------------

    def of_organization(self, session: Session, scope: Scope) -> dict[str, Applied]:
        own = _own(session.scalars(repository.organization_quotas(scope)).first())
        applied = {}
        for name in NAMES:
            if own[name] is not None:
                applied[name] = Applied(own[name], own[name], Source.ORGANIZATION)
            else:
                default = self.defaults[name]
                applied[name] = Applied(None, default, Source.INSTALLATION if default is not None else None)
        return applied

    def of_project(self, session: Session, scope: repository.ProjectScoped) -> dict[str, Applied]:
        organization = self.of_organization(session, scope)
        own = _own(session.scalars(repository.project_quotas(scope)).first())
        return {name: Applied(own[name], *_tighter(own[name], organization[name])) for name in NAMES}

    # --- the check a create holds ----------------------------------------------------------------

    def hold(self, session: Session, scope: ProjectScope) -> None:
        """Room for one more bucket in the scope's project, held until the transaction ends: the
        project's row is locked (PostgreSQL), or SQLite's one write lock taken, before its buckets
        are counted, so two creates cannot both take the last place. Over the quota: 422 naming
        ``quota.buckets`` and its value; nothing is recorded."""
        applied = self.of_project(session, scope)["buckets"]
        if applied.limit is None:
            return
        sqlite = session.get_bind().dialect.name == "sqlite"
        session.execute(repository.write_lock(scope) if sqlite else repository.lock_project(scope))
        used = int(session.scalar(repository.live_buckets(scope)) or 0)
        if used >= applied.limit:
            noun = "bucket" if applied.limit == 1 else "buckets"
            raise Invalid.field(
                "quota.buckets",
                f"the {applied.source}'s quota allows {applied.limit} {noun} in project "
                f"{scope.project_slug!r}; it has {used}",
            )

    # --- setting them ----------------------------------------------------------------------------

    def set_for_project(self, session: Session, scope: ProjectScope, values: Values) -> None:
        """The project's own quotas, all at once (a value left out inherits); none above the
        organization's: 422 naming each such field and the organization's value."""
        organization = self.of_organization(session, scope)
        problems = [
            FieldProblem(
                name,
                f"{value} is above the {organization[name].source}'s quota of {organization[name].limit}",
            )
            for name, value in values.items()
            if value is not None
            and organization[name].limit is not None
            and value > (organization[name].limit or 0)
        ]
        if problems:
            raise Invalid(problems)
        row = session.scalars(repository.project_quotas(scope)).first()
        if row is None:
            row = ProjectQuotas(project_id=scope.project_id, organization_id=scope.organization_id)
            session.add(row)
        _write(row, values)
        audit.record_in(session, scope, "quotas.project", scope.project_slug, _described(values))
        session.commit()

    def set_for_organization(
        self, session: Session, principal: Principal, slug: str, values: Values
    ) -> OrganizationRef:
        """The organization's own quotas, all at once, by the operator; 404 for no live organization."""
        found = session.execute(tenancy_repository.live_organization_id(slug)).scalar()
        if found is None:
            raise NotFound(f"organization {slug!r} does not exist")
        organization = OrganizationRef(found, slug)
        row = session.scalars(repository.organization_quotas(organization)).first()
        if row is None:
            row = OrganizationQuotas(organization_id=found)
            session.add(row)
        _write(row, values)
        audit.record(
            session,
            principal,
            "quotas.organization",
            organization_id=found,
            target=slug,
            detail=_described(values),
        )
        session.commit()
        return organization

    def use(self, session: Session, scope: Scope) -> tuple[int, int, int]:
        """Live buckets, objects and bytes of a project, or of an organization's projects together."""
        buckets, objects, size = session.execute(repository.use(scope)).one()
        return int(buckets), int(objects), int(size)


def _write(row: QuotaColumns, values: Values) -> None:
    for name in NAMES:
        setattr(row, name, values.get(name))
    row.updated_at = utcnow()


def _described(values: Values) -> str:
    return ", ".join(f"{name}={'inherit' if values.get(name) is None else values[name]}" for name in NAMES)
