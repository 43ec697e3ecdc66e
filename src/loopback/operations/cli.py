"""``loopback doctor`` and ``loopback backup``: commands on the installation itself, run where it runs.

They read the same LOOPBACK_* settings as ``serve`` and reach its database, queue and providers
directly (no API). Imported when one of them is looked up; FastAPI stays out of them.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from loopback.kit.settings import Settings

if TYPE_CHECKING:
    from loopback.operations.doctor import Progress
    from loopback.operations.findings import Finding


class Output(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


DataDir = Annotated[
    Path | None,
    typer.Option(help="the installation's data directory (env LOOPBACK_DATA_DIR, default ./.loopback)"),
]
OutputOption = Annotated[Output, typer.Option("--output", "-o", help="table for people, json for scripts")]


def settings_of(data_dir: Path | None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings.data_dir = data_dir
    return settings


def register(app: typer.Typer) -> None:
    app.command()(doctor)
    from loopback.operations.backup_cli import backup

    app.add_typer(backup, name="backup")


def doctor(
    data_dir: DataDir = None,
    output: OutputOption = Output.TABLE,
    providers: Annotated[
        bool, typer.Option(help="run each enabled provider's round trip (a scratch bucket and key, removed)")
    ] = True,
) -> None:
    """Check the database, queue, secret keys, providers, clock and data directory; each with its fix.

    Exit code: 0 all ok, 1 a warning, 2 a failing check.
    """
    from loopback.operations.doctor import diagnose
    from loopback.operations.findings import EXIT_CODES, worst

    with progress_on_stderr("checking") as progress:
        findings = diagnose(settings_of(data_dir), providers=providers, progress=progress)
    status = worst(findings)
    if output is Output.JSON:
        typer.echo(json.dumps({"status": str(status), "checks": [f.as_json() for f in findings]}, indent=2))
    else:
        show_findings(findings)
    raise typer.Exit(EXIT_CODES[status])


STYLES = {"ok": "green", "warning": "yellow", "failing": "bold red"}


def show_findings(findings: list[Finding]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for column in ("check", "status", "detail", "fix"):
        table.add_column(column, overflow="fold")
    for finding in findings:
        status = str(finding.status)
        table.add_row(finding.check, f"[{STYLES[status]}]{status}[/]", finding.detail, finding.fix or "")
    Console(soft_wrap=False).print(table)


@contextmanager
def progress_on_stderr(doing: str) -> Iterator[Progress]:
    """A spinner naming the running step on a terminal; a line per step on stderr otherwise."""
    if not sys.stderr.isatty():

        def line(label: str, done: int | None, total: int | None) -> None:
            counted = f" {done}/{total}" if done is not None else ""
            typer.echo(f"{doing} {label}{counted}", err=True)

        yield line
        return

    from rich.console import Console

    with Console(stderr=True).status(doing) as spinner:

        def update(label: str, done: int | None, total: int | None) -> None:
            counted = f" ({done}/{total})" if done is not None else ""
            spinner.update(f"{doing} {label}{counted}")

        yield update
