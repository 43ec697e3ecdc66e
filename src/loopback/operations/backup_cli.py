"""``loopback backup create FILE`` and ``loopback backup restore FILE`` (docs/operations.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from loopback.kit.units import binary_size
from loopback.operations.cli import DataDir, Output, OutputOption, progress_on_stderr, settings_of

if TYPE_CHECKING:
    from loopback.operations.archive import Manifest

backup = typer.Typer(
    help="A consistent copy of the installation's database in one file, and its restore.",
    no_args_is_help=True,
)

FileArgument = Annotated[Path, typer.Argument(help="the backup file", show_default=False)]


@backup.command("create")
def create(file: FileArgument, data_dir: DataDir = None, output: OutputOption = Output.TABLE) -> None:
    """Write the database (SQLite's online backup, or pg_dump) and its manifest to FILE.

    Safe while `loopback serve` runs. The secret key is never in it: keep the key file (or
    LOOPBACK_SECRET_KEY) apart, as the backup's secrets open with it alone.
    """
    from loopback.operations.archive import BackupError
    from loopback.operations.backup import create_backup

    settings = settings_of(data_dir)
    try:
        with progress_on_stderr("backup:") as progress:
            made = create_backup(settings, file, progress)
    except BackupError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(error.exit_code) from None
    manifest = made.manifest
    if output is Output.JSON:
        shown = {"file": str(made.path), "bytes": made.bytes, "seconds": round(made.seconds, 2)}
        typer.echo(json.dumps({**shown, "manifest": manifest.as_json()}, indent=2))
        return
    typer.echo(
        f"wrote {made.path} ({binary_size(made.bytes)}, {made.seconds:.1f} s): {manifest.database_kind} at "
        f"revision {manifest.schema_revision}, {rows(manifest)} in {len(manifest.row_counts)} tables"
    )
    typer.echo("the secret key is not in it: keep a copy of it apart from the backup", err=True)


def rows(manifest: Manifest) -> str:
    count = sum(manifest.row_counts.values())
    return f"{count} row{'' if count == 1 else 's'}"


@backup.command("restore")
def restore(file: FileArgument, data_dir: DataDir = None, output: OutputOption = Output.TABLE) -> None:
    """Restore FILE into an empty installation, then bring its schema to the newest.

    Refuses (exit 3) an installation that holds data, and (exit 1) a file whose manifest or
    checksum does not hold; either way nothing is changed. Start it with the secret key of the
    installation the backup came from; `loopback doctor` says whether it opens the secrets.
    """
    from loopback.operations.archive import BackupError
    from loopback.operations.restore import restore_backup

    settings = settings_of(data_dir)
    try:
        with progress_on_stderr("restore:") as progress:
            progress("checking the backup", None, None)
            restored = restore_backup(settings, file)
    except BackupError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(error.exit_code) from None
    manifest = restored.manifest
    if output is Output.JSON:
        typer.echo(json.dumps({"database": restored.database, "manifest": manifest.as_json()}, indent=2))
        return
    typer.echo(
        f"restored {file} (made {manifest.created_at} by Loopback {manifest.loopback_version}) into "
        f"{restored.database}: {rows(manifest)}, schema at the newest revision"
    )
    typer.echo(
        "give it the old installation's secret key (its secret.key in the data directory, or "
        "LOOPBACK_SECRET_KEY), then run `loopback doctor`",
        err=True,
    )
