"""The ``loopback`` command: run the control plane, its workers and its migrations, and call its API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import loopback
from loopback.buckets import cli as buckets_cli
from loopback.credentials import cli as credentials_cli
from loopback.kit import login as login_cli
from loopback.kit.settings import Settings
from loopback.providers import cli as providers_cli
from loopback.tenancy import cli as tenancy_cli

app = typer.Typer(
    name="loopback",
    help="Loopback object storage: S3-compatible buckets for the projects of organizations.",
    no_args_is_help=True,
)


def _settings(host: str | None = None, port: int | None = None, data_dir: Path | None = None) -> Settings:
    settings = Settings()
    if host is not None:
        settings.host = host
    if port is not None:
        settings.port = port
    if data_dir is not None:
        settings.data_dir = data_dir
    return settings


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="address to listen on (env LOOPBACK_HOST, default 127.0.0.1)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="port; 0 picks a free one (env LOOPBACK_PORT, default 8080)")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="data directory (env LOOPBACK_DATA_DIR, default ./.loopback)")
    ] = None,
) -> None:
    """Run the API, the automation worker and the embedded SeaweedFS until Ctrl-C or SIGTERM."""
    from loopback.serve import serve as run

    run(_settings(host, port, data_dir))


@app.command()
def worker(
    threads: Annotated[int, typer.Option(help="worker threads")] = 4,
) -> None:
    """Run automation tasks and periodic jobs only, for installations with more than one machine."""
    from loopback.migrations import upgrade
    from loopback.runtime import Runtime
    from loopback.serve import configure_logging

    configure_logging()
    settings = _settings()
    upgrade(settings.resolved_database_url)
    runtime = Runtime.from_settings(settings)
    try:
        runtime.automation.create_consumer(threads, embedded=False).run()
    finally:
        runtime.close()


@app.command()
def migrate() -> None:
    """Bring the database to the newest schema; safe to run again."""
    from loopback.migrations import upgrade

    settings = _settings()
    upgrade(settings.resolved_database_url)
    typer.echo("database is at the newest schema")


@app.command()
def permissions(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write the Markdown here instead of printing it")
    ] = None,
) -> None:
    """The permission table as Markdown; `make docs` writes it to docs/permissions.md."""
    from loopback.tenancy.permissions import markdown

    if output is None:
        typer.echo(markdown(), nl=False)
    else:
        output.write_text(markdown())
        typer.echo(f"wrote {output}")


admin = typer.Typer(
    help="Installation-side commands that act on the database directly.", no_args_is_help=True
)
app.add_typer(admin, name="admin")


@admin.command("token")
def admin_token(
    email: Annotated[str, typer.Argument(help="the user's email; the user is created when new")],
    name: Annotated[str, typer.Option(help="what the token is for")] = "issued by the operator",
    expires_in_days: Annotated[int | None, typer.Option(min=1, max=3650, help="none: until revoked")] = None,
) -> None:
    """Issue a personal token for a user who has none yet (a new member's first way in)."""
    from loopback.kit.db import Database
    from loopback.migrations import upgrade
    from loopback.tenancy.service import issue_user_token

    settings = _settings()
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        with db.session() as session:
            issued = issue_user_token(session, email, name, expires_in_days)
    finally:
        db.dispose()
    typer.echo(f"Token for {email}, shown this once (stored hashed):")
    typer.echo(issued.secret)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(loopback.__version__)


tenancy_cli.register(app)
providers_cli.register(app)
login_cli.register(app)
buckets_cli.register(app)
credentials_cli.register(app)
