"""The ``loopback`` command: run the control plane, its workers and its migrations, and call its API."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.main

import loopback
from loopback.completion import CompletingGroup, InstallOption, ShowOption
from loopback.kit.settings import Settings

if TYPE_CHECKING:
    from typer.core import TyperCommand, TyperGroup

    from loopback.kit.secrets import RotationProgress, RotationReport

# The API client's commands, by the module whose ``register(app)`` adds them, in the order ``--help``
# lists them. A module is imported when one of its commands is looked up (run, completed, listed):
# ``loopback serve`` and ``loopback worker`` load none of them, nor Rich behind them (issue 14: an
# API replica's memory). A module that adds other names than these fails when it is loaded.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "loopback.tenancy.cli": ("whoami", "audit", "orgs", "projects", "members", "tokens"),
    "loopback.client.login": ("login", "logout"),
    "loopback.buckets.cli": ("regions", "usage", "buckets"),
    "loopback.credentials.cli": ("credentials",),
    "loopback.providers.cli": ("providers",),
    "loopback.billing.cli": ("billing",),
    "loopback.quotas.cli": ("quotas",),
    "loopback.webhooks.cli": ("webhooks",),
    "loopback.cosi.cli": ("cosi-driver",),
    "loopback.operations.cli": ("doctor", "backup"),
}


@functools.cache
def registered(module: str) -> typer.Typer:
    """What ``module``'s ``register`` adds, added once per process as at import before (each run
    of the command builds its commands anew from it, as Typer builds the rest)."""
    commands = typer.Typer()
    importlib.import_module(module).register(commands)
    return commands


class LazyCommands(MutableMapping[str, "TyperCommand | TyperGroup"]):
    """The root's commands: those defined here, then ``COMMAND_MODULES``'s, each built on first use."""

    def __init__(self, defined: dict[str, Any]) -> None:
        self.built: dict[str, Any] = dict(defined)
        self.module_of = {name: module for module, names in COMMAND_MODULES.items() for name in names}
        self.order = [*self.built, *(n for n in self.module_of if n not in self.built)]

    def load(self, module: str) -> None:
        commands = typer.main.get_group(registered(module)).commands
        if tuple(sorted(commands)) != tuple(sorted(COMMAND_MODULES[module])):
            raise RuntimeError(
                f"{module}.register adds {sorted(commands)}; loopback.cli.COMMAND_MODULES "
                f"says {sorted(COMMAND_MODULES[module])}: make them agree"
            )
        for name, command in commands.items():
            self.built[name] = command
            del self.module_of[name]

    def __getitem__(self, name: str) -> Any:
        if name in self.module_of:
            self.load(self.module_of[name])
        return self.built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.built[name] = command
        self.module_of.pop(name, None)
        if name not in self.order:
            self.order.append(name)

    def __delitem__(self, name: str) -> None:
        self[name]  # a module's other commands stay: it adds them all or none
        del self.built[name]
        self.order.remove(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.order))

    def __len__(self) -> int:
        return len(self.order)


class LoopbackGroup(CompletingGroup):
    """The ``loopback`` command, with the API client's commands loaded on first use (``LazyCommands``)."""

    def __init__(self, *args: Any, commands: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, commands=LazyCommands(commands or {}), **kwargs)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # the names only: listing them loads no module


app = typer.Typer(
    name="loopback",
    help="Loopback object storage: S3-compatible buckets for the projects of organizations.",
    no_args_is_help=True,
    add_completion=False,  # ours take the shell's name: loopback.completion
    cls=LoopbackGroup,
)


@app.callback()
def completion(install_completion: InstallOption = None, show_completion: ShowOption = None) -> None:
    """Take ``--install-completion`` and ``--show-completion`` before any command (loopback.completion)."""


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
    threads: Annotated[int, typer.Option(min=1, envvar="LOOPBACK_WORKER_THREADS", help="worker threads")] = 4,
) -> None:
    """Run automation tasks and periodic rounds only, for installations with more than one machine.

    Reads the same LOOPBACK_* settings as `serve` (database, queue, secret key). Any number may run
    at once: each periodic round runs once per period among them, and the buckets of a worker that
    was killed midway are taken over by another within about 20 s.
    """
    import logging

    from loopback.automation.queue import PROCESS
    from loopback.kit.secrets import SecretKeyError
    from loopback.runtime import Runtime
    from loopback.serve import StartRefused, configure_logging, ensure_newest_schema, limit_malloc_arenas

    limit_malloc_arenas()
    configure_logging()
    settings = _settings()
    try:
        ensure_newest_schema(settings.resolved_database_url)
    except StartRefused as error:
        logging.getLogger("loopback.worker").error("not starting: %s", error)
        raise typer.Exit(2) from None
    settings.workers = threads  # this process's worker threads, each with a connection of its own
    runtime = Runtime.from_settings(settings)
    try:
        try:  # a worker on another key would fail every task that opens a secret: refuse to start
            runtime.check_secrets()
        except SecretKeyError as error:
            logging.getLogger("loopback.worker").error("not starting: %s", error)
            raise typer.Exit(1) from None
        consumer = runtime.automation.create_consumer(threads, embedded=False)
        logging.getLogger("loopback.worker").info(
            "worker %s started: %d threads on queue %r", PROCESS, threads, settings.queue_name
        )
        consumer.run()
    finally:
        runtime.close()


@app.command()
def migrate(
    contract: Annotated[
        bool,
        typer.Option(
            "--contract",
            help="also run the contract migrations, which the previous release cannot run against:"
            " only once every process runs this version (docs/upgrades.md)",
        ),
    ] = False,
) -> None:
    """Bring the database to the newest schema (its expand migrations); safe to run again."""
    from loopback.migrations import upgrade

    settings = _settings()
    left = upgrade(settings.resolved_database_url, contract=contract)
    if not left:
        typer.echo("database is at the newest schema")
        return
    typer.echo(
        f"database is at the newest schema the previous release runs on; {len(left)} contract "
        f"migration(s) left ({', '.join(left)}): run `loopback migrate --contract` once every "
        "process runs this version"
    )


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


@contextmanager
def _database_of(settings: Settings) -> Iterator[None]:
    """Turn a database that cannot be opened or used into one line that names it, and exit 1.

    Run outside the data directory, SQLite's ``unable to open database file`` came as ~300 lines
    of traceback; the user needs to know which database was tried and which setting moves it.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except DBAPIError as error:
        url = settings.resolved_database_url
        shown = make_url(url).render_as_string(hide_password=True)
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        where = (
            "set LOOPBACK_DATA_DIR to the data directory of `loopback serve` (or run this where it runs), "
            "or LOOPBACK_DATABASE_URL to its database"
            if settings.database_url is None
            else "check LOOPBACK_DATABASE_URL"
        )
        typer.echo(f"error: cannot use the database {shown} ({reason}): {where}", err=True)
        raise typer.Exit(1) from None


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
    with _database_of(settings):
        upgrade(settings.resolved_database_url)
        db = Database(settings.resolved_database_url)
        try:
            with db.session() as session:
                issued = issue_user_token(session, email, name, expires_in_days)
        finally:
            db.dispose()
    typer.echo(f"Token for {email}, shown this once (stored hashed):")
    typer.echo(issued.secret)


@admin.command("rotate-secret-key")
def admin_rotate_secret_key(
    batch_size: Annotated[int, typer.Option(min=1, help="rows re-encrypted per transaction")] = 500,
) -> None:
    """Re-encrypt every stored secret under the newest key, so the older keys can be retired.

    With LOOPBACK_SECRET_KEY: restart every process with the new key first in it (`NEW,OLD`),
    run this, then drop the older keys. Without it (the key file in the data directory): stop
    `loopback serve` first; this puts a new key in the file and removes the old one when done.
    Safe to run again; console users sign in again once the old key is gone.
    """
    from loopback.kit.secrets import SecretKeyError, key_file

    settings = _settings()
    try:
        with _database_of(settings):
            _rotate(settings, batch_size)
    except (SecretKeyError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        path = key_file(settings)
        if settings.secret_key is None and path.exists() and "," in path.read_text():
            typer.echo(
                f"{path} keeps the new key and the old one, so every value still opens; "
                "fix the cause and run the command again to finish the rotation",
                err=True,
            )
        raise typer.Exit(1) from None


def _rotate(settings: Settings, batch_size: int) -> None:
    if settings.secret_key is None:
        _rotate_the_key_file(settings, batch_size)
    else:
        _rotate_to_the_first_configured_key(settings, batch_size)


def _rotate_to_the_first_configured_key(settings: Settings, batch_size: int) -> None:
    from cryptography.fernet import Fernet

    from loopback.kit.db import Database
    from loopback.kit.secrets import SecretStore, load_keys, rotate_stored_secrets
    from loopback.migrations import upgrade

    keys = load_keys(settings)
    store = SecretStore(keys)
    if len(keys) == 1:
        typer.echo(
            "LOOPBACK_SECRET_KEY holds one key: there is nothing older to retire.\n"
            "To rotate, put a new key first, restart every process with both, and run this again:\n"
            f"  LOOPBACK_SECRET_KEY={Fernet.generate_key().decode()},<the current key>\n"
            "(a freshly generated key; any output of `Fernet.generate_key()` will do)"
        )
        return
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        with _rotation_progress() as progress, db.session() as session:
            report = rotate_stored_secrets(session, store, batch_size, progress)
    finally:
        db.dispose()
    typer.echo(
        f"{_rotated(report)}; the older keys ({len(keys) - 1}) can now be removed from "
        "LOOPBACK_SECRET_KEY (restart every process with the newest key only; console users sign in again)"
    )


def _rotate_the_key_file(settings: Settings, batch_size: int) -> None:
    from loopback.kit.db import Database
    from loopback.kit.secrets import SecretKeyError, key_file, rotate_key_file
    from loopback.migrations import upgrade

    if not key_file(settings).exists():
        raise SecretKeyError(
            f"LOOPBACK_SECRET_KEY is unset and there is no key file at {key_file(settings)}: "
            "check LOOPBACK_DATA_DIR"
        )
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        with _rotation_progress() as progress:
            rotation = rotate_key_file(settings, db, batch_size=batch_size, progress=progress)
    finally:
        db.dispose()
    how = "resumed the rotation of" if rotation.resumed else "put a new key in"
    older = "the older key is" if rotation.retired == 1 else f"the older keys ({rotation.retired}) are"
    typer.echo(f"{how} {rotation.path}; {_rotated(rotation.report)}")
    typer.echo(
        f"{older} removed from the file: back it up with the database, and start `loopback serve` "
        "again; console users sign in again"
    )


def _rotated(report: RotationReport) -> str:
    done = f"re-encrypted {report.secrets} secrets and {report.answers} kept answers under the newest key"
    return done + (f" ({report.already_current} were under it already)" if report.already_current else "")


@contextmanager
def _rotation_progress() -> Iterator[RotationProgress]:
    """A progress bar on a terminal, a line per batch on stderr otherwise (logs, CI, tests)."""
    import sys

    if not sys.stderr.isatty():

        def line(table: str, seen: int, total: int) -> None:
            typer.echo(f"{table}: {seen}/{total}", err=True)

        yield line
        return

    from rich.console import Console
    from rich.progress import Progress, TaskID

    tasks: dict[str, TaskID] = {}
    with Progress(console=Console(stderr=True), transient=True) as bar:

        def advance(table: str, seen: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=total)
            bar.update(tasks[table], completed=seen, total=total)

        yield advance


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(loopback.__version__)
