"""PostgreSQL's side of backup and restore: ``pg_dump`` and ``pg_restore`` from the server's client
tools, the dump taken in the very snapshot the rows are counted in."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from loopback.kit.db import make_engine
from loopback.operations.archive import BackupError

MISSING_TOOL = (
    "{tool} is not on PATH: a PostgreSQL installation is backed up and restored with PostgreSQL's own "
    "client tools; install them at the server's major version or newer (Debian and Ubuntu: "
    "postgresql-client-NN) and run this again"
)


@dataclass(frozen=True)
class Dumped:
    row_counts: dict[str, int]
    revision: str
    schema: str


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(MISSING_TOOL.format(tool=name))
    return found


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL as libpq reads it (no driver, no password) and the environment that carries the password."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def current_schema(connection: Connection) -> str:
    """The schema the installation's tables are in: the first of its search path, made or not."""
    found = connection.execute(text("SELECT current_schema()")).scalar()
    if found:
        return str(found)
    path = str(connection.execute(text("SHOW search_path")).scalar() or "public")
    first = next((p.strip().strip('"') for p in path.split(",") if p.strip() != '"$user"'), "public")
    return first or "public"


def tables_of(connection: Connection, schema: str) -> list[str]:
    query = text(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = :schema AND table_type = 'BASE TABLE' ORDER BY table_name"
    )
    return [str(name) for name in connection.execute(query, {"schema": schema}).scalars()]


def counts_of(connection: Connection, schema: str) -> tuple[dict[str, int], str]:
    tables = tables_of(connection, schema)
    counts = {
        t: int(connection.execute(text(f'SELECT count(*) FROM "{schema}"."{t}"')).scalar_one())
        for t in tables
    }
    revision = "none"
    if "alembic_version" in tables:
        found = connection.execute(text(f'SELECT version_num FROM "{schema}".alembic_version')).scalars()
        revision = ",".join(sorted(found)) or "none"
    return counts, revision


def dump(url: str, into: Path) -> Dumped:
    """``pg_dump`` of the installation's schema into ``into`` (custom format), in the snapshot whose
    rows it counts: a live installation's writes during the dump are in neither."""
    pg_dump = tool("pg_dump")
    target, env = libpq(url)
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                schema = current_schema(connection)
                counts, revision = counts_of(connection, schema)
                only = [] if schema == "public" else ["--schema", schema]
                _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges",
                      f"--snapshot={snapshot}", *only, "--file", str(into), target], env)  # fmt: skip
    finally:
        engine.dispose()
    return Dumped(counts, revision, schema)


def restore(url: str, dumped: Path) -> None:
    """``pg_restore`` in one transaction: it all lands, or nothing does."""
    pg_restore = tool("pg_restore")
    target, env = libpq(url)
    _run([pg_restore, "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
          "--dbname", target, str(dumped)], env)  # fmt: skip


def _run(command: Sequence[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}").splitlines()
        raise BackupError(f"{Path(command[0]).name} failed: {' '.join(said[-3:])}")
