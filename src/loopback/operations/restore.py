"""``loopback backup restore``: a backup into an empty installation, checked before it lands.

The order keeps a refusal harmless: the manifest (format, kind, a revision this Loopback knows),
then the target (no table at all), then the copy's checksum and row counts; only then does the
database take the copy's place, and the migrations bring it to the newest schema.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from loopback.kit.files import make_private_dir
from loopback.kit.settings import Settings
from loopback.migrations import unknown_revisions
from loopback.operations.archive import BackupError, Manifest, NotEmpty, extract_database, read_manifest
from loopback.operations.backup import database_kind
from loopback.operations.checks import shown_url, sqlite_path

WHERE_EMPTY = (
    "restore into a new installation: point LOOPBACK_DATA_DIR at a new directory "
    "(or LOOPBACK_DATABASE_URL at an empty database)"
)


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    database: str


def restore_backup(settings: Settings, archive: Path) -> Restored:
    url = settings.resolved_database_url
    manifest = read_manifest(archive)
    kind = database_kind(url)
    if manifest.database_kind != kind:
        raise BackupError(
            f"{archive} holds a {manifest.database_kind} database and this installation's is {kind}: "
            "restore it into an installation of the same kind"
        )
    if unknown := unknown_revisions(manifest.revisions):
        raise BackupError(
            f"{archive} was made at schema revision {','.join(unknown)}, which this Loopback does not know: "
            f"restore it with Loopback {manifest.loopback_version} or newer"
        )
    if kind == "sqlite":
        _restore_sqlite(archive, manifest, settings)
    else:
        _restore_postgresql(archive, manifest, url)
    from loopback.migrations import upgrade

    upgrade(url)
    return Restored(manifest, shown_url(url))


def _refuse_unless_empty(tables: list[str], where: str) -> None:
    if tables:
        named = ", ".join(sorted(tables)[:4]) + (" ..." if len(tables) > 4 else "")
        raise NotEmpty(
            f"{where} is not empty (it holds {len(tables)} tables: {named}); "
            f"a restore never writes over an installation: {WHERE_EMPTY}"
        )


def _check_counts(manifest: Manifest, counts: dict[str, int]) -> None:
    if counts != manifest.row_counts:
        differ = sorted(
            t for t in {*counts, *manifest.row_counts} if counts.get(t) != manifest.row_counts.get(t)
        )
        raise BackupError(f"the restored rows differ from the manifest's counts in {', '.join(differ)}")


def _restore_sqlite(archive: Path, manifest: Manifest, settings: Settings) -> None:
    from loopback.operations import sqlite_copy

    database = sqlite_path(settings.resolved_database_url)
    assert database is not None
    _refuse_unless_empty(sqlite_copy.tables_in(database), f"the database {database}")
    # Beside the database when its directory exists (one rename puts it in place); nothing is made
    # in a data directory before the copy has proved whole.
    near = database.parent if database.parent.is_dir() else None
    with tempfile.TemporaryDirectory(dir=near, prefix=".loopback-restore-") as scratch:
        copy = Path(scratch) / manifest.database_file
        extract_database(archive, manifest, copy)
        sqlite_copy.check_whole(copy)
        _check_counts(manifest, sqlite_copy.row_counts(copy)[0])
        if near is None or database.parent == settings.data_dir.absolute():
            make_private_dir(database.parent)
        _refuse_unless_empty(sqlite_copy.tables_in(database), f"the database {database}")  # still
        sqlite_copy.put_in_place(copy, database)


def _restore_postgresql(archive: Path, manifest: Manifest, url: str) -> None:
    from loopback.kit.db import make_engine
    from loopback.operations import postgres_copy

    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            schema = postgres_copy.current_schema(connection)
            _refuse_unless_empty(
                postgres_copy.tables_of(connection, schema), f"schema {schema} of {shown_url(url)}"
            )
        if schema != manifest.database_schema:
            raise BackupError(
                f"{archive} holds schema {manifest.database_schema} and this installation reads schema "
                f"{schema}: restore it where the search path starts with {manifest.database_schema}"
            )
        with tempfile.TemporaryDirectory(prefix="loopback-restore-") as scratch:
            copy = Path(scratch) / manifest.database_file
            extract_database(archive, manifest, copy)
            postgres_copy.restore(url, copy)
        with engine.connect() as connection:
            _check_counts(manifest, postgres_copy.counts_of(connection, schema)[0])
    finally:
        engine.dispose()
