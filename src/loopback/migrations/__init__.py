"""Database migrations (Alembic), run by ``loopback migrate`` and on every start of ``serve``.

Upgrades go one version at a time without an outage (expand, migrate, contract, as GitLab's
migration rules put it; ``docs/upgrades.md``):

- an *expand* migration only adds (a table, a nullable column, an index), so the previous
  release's code keeps working against the new schema while both run side by side; ``serve``,
  ``worker`` and ``loopback migrate`` run these;
- a *contract* migration removes or renames what the previous release still reads. It says
  ``contract = True`` in its file, is run only by ``loopback migrate --contract`` once no process
  of the previous release is left, and records itself in the table ``schema_contracts``;
- a process whose code is older than the database (a replica not upgraded yet) starts when every
  migration it does not know was an expand one, and refuses, naming the revision, once a contract
  migration it does not know has run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, inspect, text

from loopback.kit.db import make_engine

HERE = Path(__file__).parent
CONTRACTS = "schema_contracts"  # one row per contract migration run (column ``revision``)

log = logging.getLogger(__name__)


class SchemaTooNew(RuntimeError):
    """The database was contracted by a newer Loopback: this version no longer runs against it."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(HERE / "versions"))
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head", contract: bool = False) -> list[str]:
    """Bring the database at ``url`` to ``revision``, stopping before the first contract migration
    unless ``contract``; a database already there is left alone. Answers the contract migrations
    left to run."""
    config = alembic_config(url)
    left: list[str] = []
    if revision == "head" and not contract:
        revision, left = _last_before_a_contract(config, url)
    command.upgrade(config, revision)
    return left


def start_on(url: str) -> None:
    """What a starting process does with the schema: run the expand migrations it has, or, where
    the database is newer than this code, start on it unless a contract migration says it may not."""
    scripts = ScriptDirectory.from_config(alembic_config(url))
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
            unknown = unknown_revisions(current, scripts)
            if unknown:
                contracted = unknown_revisions(_contracts(connection), scripts)
                if contracted:
                    raise SchemaTooNew(
                        "the database was contracted by a newer Loopback (migration "
                        f"{', '.join(contracted)}): this version no longer runs against it; run the newer one"
                    )
                log.warning(
                    "the database is at migration %s, newer than this Loopback knows (%s); every "
                    "migration since only added to it, so this version runs on it",
                    ", ".join(unknown),
                    ", ".join(scripts.get_heads()),
                )
                return
    finally:
        engine.dispose()
    upgrade(url)


def _last_before_a_contract(config: Config, url: str) -> tuple[str, list[str]]:
    """``head``, or the revision before the first contract migration the database has not run, and
    the contract migrations not run."""
    scripts = ScriptDirectory.from_config(config)
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    pending = list(scripts.iterate_revisions("heads", current or "base"))[::-1]  # oldest first
    contracts = [script for script in pending if getattr(script.module, "contract", False)]
    if not contracts:
        return "head", []
    before = contracts[0].down_revision
    return (str(before) if isinstance(before, str) else "base"), [c.revision for c in contracts]


def unknown_revisions(revisions: Iterable[str], scripts: ScriptDirectory | None = None) -> tuple[str, ...]:
    """Revisions no migration of this Loopback has: a database (or backup) of a newer version."""
    scripts = scripts or ScriptDirectory.from_config(alembic_config("unused://"))
    unknown = []
    for revision in revisions:
        try:
            if scripts.get_revision(revision) is None:
                unknown.append(revision)
        except CommandError:
            unknown.append(revision)
    return tuple(unknown)


def _contracts(connection: Connection) -> list[str]:
    if not inspect(connection).has_table(CONTRACTS):
        return []
    return [str(r) for r in connection.execute(text(f"SELECT revision FROM {CONTRACTS}")).scalars()]
