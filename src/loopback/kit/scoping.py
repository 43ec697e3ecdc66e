"""The one statement every read of a tenant's rows is built on (polar's ``get_readable_statement``).

Each domain's repository passes its statements through ``readable`` with the caller's scope; a test
(tests/architecture/test_scoping.py) fails when code outside a repository selects a tenant's model, and
``scripts/mutate_scopes.py`` shows the suite failing when this filter is taken out of any of them.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlalchemy import Select

from loopback.kit.logs import bind

S = TypeVar("S", bound=Select[*tuple[Any, ...]])


class Scope(Protocol):
    """An organization, and for a project scope also the project, the caller may read in."""

    @property
    def organization_id(self) -> str: ...


def readable(statement: S, model: Any, scope: Scope) -> S:
    """``statement`` limited to ``model``'s rows in the scope's organization, and project if it has one."""
    clauses = [model.organization_id == scope.organization_id]
    project_id = getattr(scope, "project_id", None)
    bind(organization_id=scope.organization_id, project_id=project_id)  # for the log lines (kit.logs)
    if project_id is not None and hasattr(model, "project_id"):
        clauses.append(model.project_id == project_id)
    return statement.where(*clauses)
