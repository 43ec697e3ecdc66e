"""``loopback backup create``: a consistent copy of the installation's database and its manifest,
in one file. The queue is not in it (its tasks are re-made from the database by the periodic
resync), nor the secret key, nor the buckets' objects, which the providers hold."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import loopback
from loopback.kit.clock import utcnow
from loopback.kit.settings import Settings
from loopback.operations.archive import (
    DATABASE_MEMBERS,
    FORMAT_VERSION,
    BackupError,
    Manifest,
    sha256_of,
    write_archive,
)
from loopback.operations.checks import sqlite_path

# Told how far a long step got: what it is, done and total (pages of SQLite, or None when unknown).
Progress = Callable[[str, int | None, int | None], None]


@dataclass(frozen=True)
class Made:
    path: Path
    manifest: Manifest
    seconds: float
    bytes: int


def database_kind(url: str) -> str:
    if sqlite_path(url) is not None:
        return "sqlite"
    if url.startswith("postgresql"):
        return "postgresql"
    raise BackupError(f"backups cover SQLite and PostgreSQL, not {url.split(':', 1)[0]}")


def create_backup(settings: Settings, target: Path, progress: Progress | None = None) -> Made:
    started = time.monotonic()
    url = settings.resolved_database_url
    kind = database_kind(url)
    target = target.absolute()
    if target.exists():
        raise BackupError(f"{target} exists already: name a new file (a backup never overwrites one)")
    if not target.parent.is_dir():
        raise BackupError(f"there is no directory {target.parent} to write {target.name} in")
    # Beside the target, not in /tmp: the copy is as large as the database and as private.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".loopback-backup-") as scratch:
        copy = Path(scratch) / DATABASE_MEMBERS[kind]
        schema: str | None = None
        if kind == "sqlite":
            from loopback.operations import sqlite_copy

            source = sqlite_path(url)
            assert source is not None
            sqlite_copy.copy_database(
                source, copy, lambda done, total: progress and progress("copying", done, total)
            )
            counts, revision = sqlite_copy.row_counts(copy)
        else:
            from loopback.operations import postgres_copy

            if progress is not None:
                progress("pg_dump", None, None)
            dumped = postgres_copy.dump(url, copy)
            counts, revision, schema = dumped.row_counts, dumped.revision, dumped.schema
        if "alembic_version" not in counts:
            raise BackupError("the database holds no Loopback schema: there is nothing to back up")
        if progress is not None:
            progress("writing", None, None)
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            loopback_version=loopback.__version__,
            created_at=utcnow().isoformat(),
            database_kind=kind,
            schema_revision=revision,
            database_schema=schema,
            row_counts=counts,
            database_file=copy.name,
            database_bytes=copy.stat().st_size,
            checksum=sha256_of(copy),
        )
        write_archive(target, manifest, copy)
    return Made(target, manifest, time.monotonic() - started, target.stat().st_size)
