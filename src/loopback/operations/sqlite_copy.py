"""SQLite's side of backup and restore: the online backup API, which copies a consistent snapshot
while ``serve`` keeps writing, and a copy checked whole before it takes the database's place."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from loopback.kit.files import PRIVATE_FILE
from loopback.operations.archive import BackupError

PAGES_PER_STEP = 4096

# Told the pages copied so far and how many there are.
PageProgress = Callable[[int, int], None]


def copy_database(source: Path, into: Path, progress: PageProgress | None = None) -> None:
    """A consistent copy of ``source`` at ``into``, in one file (no WAL beside it)."""
    if not source.is_file():
        raise BackupError(f"there is no database at {source}: set LOOPBACK_DATA_DIR to the installation's")
    os.close(os.open(into, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))

    def told(_status: int, remaining: int, total: int) -> None:
        if progress is not None:
            progress(total - remaining, total)

    with closing(sqlite3.connect(source, timeout=30)) as live, closing(sqlite3.connect(into)) as copy:
        live.backup(copy, pages=PAGES_PER_STEP, progress=told)
        copy.execute("PRAGMA journal_mode=DELETE")


def row_counts(database: Path) -> tuple[dict[str, int], str]:
    """Rows per table, and the Alembic revision, of a SQLite file."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        tables = _tables(connection)
        counts = {t: int(connection.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in tables}
        revision = "none"
        if "alembic_version" in tables:
            found = sorted(r for (r,) in connection.execute("SELECT version_num FROM alembic_version"))
            revision = ",".join(found) or "none"
    return counts, revision


def check_whole(database: Path) -> None:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
    if verdict != "ok":
        raise BackupError(f"the backup's database fails SQLite's integrity check: {verdict}")


def tables_in(database: Path) -> list[str]:
    """The tables of the SQLite file at ``database``; none when there is no file (or it is empty)."""
    if not database.is_file() or database.stat().st_size == 0:
        return []
    with closing(sqlite3.connect(database, timeout=30)) as connection:  # a live WAL is read too
        return _tables(connection)


def _tables(connection: sqlite3.Connection) -> list[str]:
    query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    return [str(name) for (name,) in connection.execute(query)]


def put_in_place(copy: Path, database: Path) -> None:
    """Make ``copy`` the database: the empty target's journal files go first, so none is replayed."""
    from loopback.runtime import SQLITE_COMPANIONS

    for suffix in SQLITE_COMPANIONS:
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    os.chmod(copy, PRIVATE_FILE)
    shutil.move(copy, database)  # a rename when both are on one file system, as beside it they are
