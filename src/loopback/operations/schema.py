"""Where a database's schema stands against this Loopback's migrations (Alembic's own records)."""

from __future__ import annotations

from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from loopback.migrations import alembic_config, unknown_revisions


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("unused://"))


@dataclass(frozen=True)
class SchemaState:
    """The database's revisions, this code's heads, and any revision this code does not know."""

    current: tuple[str, ...]
    heads: tuple[str, ...]
    unknown: tuple[str, ...]

    @property
    def at_head(self) -> bool:
        return sorted(self.current) == sorted(self.heads)

    @property
    def revision(self) -> str:
        return ",".join(sorted(self.current)) or "none"


def schema_state(connection: Connection) -> SchemaState:
    scripts = _scripts()
    current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    return SchemaState(current, tuple(sorted(scripts.get_heads())), unknown_revisions(current, scripts))


def table_names(connection: Connection) -> list[str]:
    """The tables of the database's current schema, Alembic's own included."""
    return sorted(inspect(connection).get_table_names())
