"""The backup file: one gzipped tar holding ``manifest.json`` and the database's copy, nothing else.

The manifest says what the copy is (kind, schema revision, rows per table) and its SHA-256, so a
restore can refuse a damaged or foreign file before it touches anything. The secret key is never
in it: a backup is restored with the key kept apart from it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from loopback.kit.files import PRIVATE_FILE

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE_MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore refused, with what the operator should do; nothing was changed."""

    exit_code = 1


class NotEmpty(BackupError):
    """The target installation holds data already: a restore never writes over it."""

    exit_code = 3


@dataclass(frozen=True)
class Manifest:
    format_version: int
    loopback_version: str
    created_at: str
    database_kind: str
    schema_revision: str
    database_schema: str | None
    row_counts: dict[str, int]
    database_file: str
    database_bytes: int
    checksum: str

    @property
    def revisions(self) -> tuple[str, ...]:
        return tuple(r for r in self.schema_revision.split(",") if r and r != "none")

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def write_archive(target: Path, manifest: Manifest, database: Path) -> None:
    """Write the file next to ``target`` first and rename it: ``target`` is whole or absent."""
    partial = target.with_name(f".{target.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            body = json.dumps(manifest.as_json(), indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(body), PRIVATE_FILE
            tar.addfile(info, io.BytesIO(body))
            info = tarfile.TarInfo(manifest.database_file)
            info.size, info.mode = database.stat().st_size, PRIVATE_FILE
            with database.open("rb") as copy:
                tar.addfile(info, copy)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def read_manifest(archive: Path) -> Manifest:
    if not archive.is_file():
        raise BackupError(f"there is no file at {archive}")
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            raw = json.loads(member.read())
    except (tarfile.TarError, KeyError, OSError, ValueError, EOFError) as error:
        raise BackupError(f"{archive} is not a Loopback backup (no readable {MANIFEST}: {error})") from None
    if not isinstance(raw, dict) or raw.get("format_version") != FORMAT_VERSION:
        found = raw.get("format_version") if isinstance(raw, dict) else None
        raise BackupError(
            f"{archive} is a backup of format {found!r}; this Loopback reads format {FORMAT_VERSION}"
        )
    try:
        manifest = Manifest(**raw)
    except TypeError as error:
        raise BackupError(f"{archive}'s manifest is not as format {FORMAT_VERSION} has it: {error}") from None
    if DATABASE_MEMBERS.get(manifest.database_kind) != manifest.database_file:
        raise BackupError(f"{archive}'s manifest names an unknown database ({manifest.database_kind!r})")
    return manifest


def extract_database(archive: Path, manifest: Manifest, into: Path) -> None:
    """Copy the database out of the archive into ``into`` (0600), refusing it unless its SHA-256 and
    size are the manifest's."""
    digest = hashlib.sha256()
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            member = tar.extractfile(manifest.database_file)
            if member is None:
                raise KeyError(manifest.database_file)
            fd = os.open(into, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
            with os.fdopen(fd, "wb") as out:
                _copy(member, out, digest)
    except (tarfile.TarError, KeyError, OSError, EOFError) as error:
        raise BackupError(f"{archive} is damaged: its database cannot be read ({error})") from None
    found = f"sha256:{digest.hexdigest()}"
    if found != manifest.checksum or into.stat().st_size != manifest.database_bytes:
        raise BackupError(
            f"{archive} is damaged: its database's checksum is {found}, the manifest says {manifest.checksum}"
        )


def _copy(source: IO[bytes], target: IO[bytes], digest: Any) -> None:
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        target.write(chunk)
