"""``loopback serve``: the API, the automation worker and the embedded storage in one process tree."""

from __future__ import annotations

import ast
import ctypes
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn
from sqlalchemy import inspect, text, update
from sqlalchemy.orm import Session

import loopback
from loopback.app import ReadinessCheck, create_app
from loopback.buckets.models import Bucket
from loopback.kit import logs
from loopback.kit.db import make_engine
from loopback.kit.files import tighten_tree
from loopback.kit.secrets import SecretKeyError
from loopback.kit.settings import Settings
from loopback.providers import config_file
from loopback.providers.base import RegionSpec
from loopback.providers.models import Region
from loopback.runtime import Runtime, make_data_dir_private
from loopback.tenancy.service import BootstrapResult, bootstrap

if TYPE_CHECKING:  # imported where they are used: an API replica runs no storage (boto3, httpx, Rich)
    from loopback.providers.seaweedfs import EmbeddedSeaweedFS

log = logging.getLogger(__name__)

LOCAL_PROVIDER = "local"
LOCAL_REGION = "local-1"
CONSUMER_SHUTDOWN_SECONDS = 4.0
PRIVATE_UMASK = 0o077  # every file serve and its children create is its owner's only
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's malloc.h


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Have glibc's malloc share ``arenas`` arenas among all threads; True if it now does.

    glibc gives each thread that allocates an arena of its own, up to eight per core, and an arena
    keeps what it held at its peak. Under load each of the API's threads (``LOOPBACK_API_THREADS``)
    had one: about 2 MiB more than two shared ones, for no speed the GIL lets threads use (issue 14).
    Called first thing, before any thread; an operator's ``MALLOC_ARENA_MAX`` wins, and another C
    library (musl) has no such arenas to limit.
    """
    if "MALLOC_ARENA_MAX" in os.environ or not _glibc():
        return False
    return bool(ctypes.CDLL(None).mallopt(M_ARENA_MAX, arenas))


def _glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):  # not a name this platform knows
        return False


def configure_logging(level: int = logging.INFO, log_format: str | None = None) -> None:
    """Text lines on stderr, or JSON ones with ``LOOPBACK_LOG_FORMAT=json`` (kit.logs)."""
    logs.configure(log_format or Settings().log_format, level)


MIGRATIONS = Path(loopback.__file__).parent / "migrations" / "versions"


def newest_revisions() -> frozenset[str]:
    """The heads of the migrations, from each file's ``revision`` and ``down_revision``, without Alembic."""
    revisions: set[str] = set()
    replaced: set[str] = set()
    for path in MIGRATIONS.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                found = ast.literal_eval(value)
                named = {found} if isinstance(found, str) else set(found or ())
                (revisions if target.id == "revision" else replaced).update(named)
    return frozenset(revisions - replaced)


def schema_revisions(url: str) -> frozenset[str]:
    """The revisions Alembic recorded in the database; none when it has not migrated it yet."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return frozenset()
            return frozenset(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()


def ensure_newest_schema(url: str) -> None:
    """Bring the database to the newest schema this code has (its expand migrations), or start on a
    newer one that only added to it (``loopback.migrations.start_on``). One already there, as at
    every start but the first after an upgrade, is only read: Alembic (about 10 MiB) stays out of
    an API replica and a worker."""
    if schema_revisions(url) == newest_revisions():
        return
    from loopback.migrations import SchemaTooNew, start_on

    try:
        start_on(url)
    except SchemaTooNew as error:
        raise StartRefused(str(error)) from None


class StartRefused(RuntimeError):
    """What keeps a process from starting, said to the operator in one line without a traceback."""


def register_embedded_storage(runtime: Runtime, session: Session, storage: EmbeddedSeaweedFS) -> None:
    """Register SeaweedFS as provider ``local`` (family ``s3``) with region ``local-1``, whose master
    tells which buckets' data changed (``admin_api: seaweedfs``), so a usage round lists only those.

    When its ports changed since the last start, the region, its ready buckets and the master follow.
    """
    provider = runtime.providers.ensure_provider(
        session,
        name=LOCAL_PROVIDER,
        family="s3",
        display_name="Local (embedded SeaweedFS)",
        regions=[RegionSpec(LOCAL_REGION, "Local", storage.endpoint)],
        access_key_id=storage.identity.access_key_id,
        secret_access_key=storage.identity.secret_access_key,
        settings={"admin_api": "seaweedfs", "admin_endpoint": storage.master_url},
    )
    session.execute(
        update(Bucket)
        .where(
            Bucket.provider_id == provider.id,
            Bucket.endpoint.is_not(None),
            Bucket.endpoint != storage.endpoint,
            Bucket.region_id.in_(
                Region.__table__.select()
                .with_only_columns(Region.id)
                .where(Region.provider_id == provider.id)
            ),
        )
        .values(endpoint=storage.endpoint)
    )
    session.commit()


def apply_providers_file(
    runtime: Runtime, session: Session, declared: config_file.ProvidersFile | None, embedded: bool
) -> None:
    """Bring the providers the operator declared in ``LOOPBACK_PROVIDERS_FILE`` to what it says."""
    if declared is None:
        return
    reserved = frozenset({LOCAL_PROVIDER}) if embedded else frozenset()
    config_file.apply(runtime.providers, session, declared, reserved)
    session.commit()


def _raise_system_exit(signum: int, _frame: FrameType | None) -> None:
    # Uvicorn re-raises the signal that stopped it; ending as SystemExit lets the cleanup below run.
    raise SystemExit(0)


@contextmanager
def embedded_storage(settings: Settings) -> Iterator[EmbeddedSeaweedFS | None]:
    if not settings.embedded_storage:
        yield None
        return
    from rich.console import Console

    from loopback.providers.seaweedfs import EmbeddedSeaweedFS

    console = Console(stderr=True)  # a spinner while SeaweedFS starts and stops

    storage = EmbeddedSeaweedFS(settings.data_dir / "seaweedfs", settings.storage_s3_port)
    with console.status("Starting the embedded storage (SeaweedFS)…"):
        storage.start()
    storage.supervise()  # a storage process that dies is started again, on the same ports
    try:
        yield storage
    finally:
        with console.status("Stopping the embedded storage…"):
            storage.stop()


def check_secret_key(runtime: Runtime) -> None:
    """Seal the canary on first start, or say at once that this process has another key.

    It keeps running: ``/readyz`` answers 503 naming ``secrets`` until it is restarted with the
    installation's key, so a load balancer keeps it out while the operator sees why.
    """
    try:
        runtime.check_secrets()
    except SecretKeyError as error:
        log.error("not ready: %s", error)


def banner(settings: Settings, result: BootstrapResult, storage: EmbeddedSeaweedFS | None) -> str:
    """What a newcomer needs on the first screen; plain lines, so a narrow terminal does not break them."""
    url = settings.resolved_public_url
    lines = [
        "",
        "Loopback object storage is running.",
        f"  API      {url}   (reference: {url}/docs)",
        f"  Console  {url}/console   (sign in with the token below)",
    ]
    if storage is not None:
        lines.append(
            f"  Storage  {storage.endpoint}   (provider `{LOCAL_PROVIDER}`, region `{LOCAL_REGION}`)"
        )
    lines.append(f"  Data     {settings.data_dir.resolve()}")
    # JSON lines go to a log store, which keeps what it is sent: there the token stays in its file.
    if result.token is not None and settings.log_format == "text":
        # The token once only: every copy of the banner in a log is another copy of the secret.
        lines += [
            "",
            f"Your operator token, shown this once (kept in {result.token_file}, mode 0600):",
            f"  export LOOPBACK_TOKEN={result.token}",
            "",
            "Try it:",
            f'  curl -s -H "Authorization: Bearer $LOOPBACK_TOKEN" {url}/v3/regions',
        ]
    elif result.token_file is not None:
        lines += ["", f"Operator token: in {result.token_file}"]
    return "\n".join([*lines, ""])


def say(text: str, log_format: str = "text") -> None:
    """A line for the operator on stderr, as it is: no markup, no wrapping; with JSON logs, a log
    record like every other line, so the stream stays one JSON object a line."""
    if log_format == "json":
        log.info(text.strip())
        return
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def bind_api(host: str, port: int) -> socket.socket:
    """Bind the API's socket before anything starts: a port in use fails at once, clearly, and
    port 0 gets a free port atomically (a pick-then-bind could lose it to another process).

    The listener carries TCP_NODELAY, which every accepted connection inherits: asyncio sets it
    itself only on sockets created with ``proto=IPPROTO_TCP``, which ``create_server``'s are not,
    and without it uvicorn's two writes per answer (head, body) met the client's delayed ACK and
    every keep-alive answer waited about 40 ms.
    """
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    try:
        listener = socket.create_server((host, port), family=family, backlog=2048)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return listener
    except OSError as error:
        raise SystemExit(
            f"cannot listen on {host}:{port}: {error.strerror}; "
            "set LOOPBACK_PORT to another port, or to 0 for a free one"
        ) from None


def serve(settings: Settings) -> None:
    """Run until SIGTERM or Ctrl-C, then stop the API, the worker and SeaweedFS, in that order."""
    limit_malloc_arenas()
    configure_logging(log_format=settings.log_format)
    listener = bind_api(settings.host, settings.port)
    settings.port = int(listener.getsockname()[1])  # the real one, also when 0 asked for any
    signal.signal(signal.SIGTERM, _raise_system_exit)
    os.umask(PRIVATE_UMASK)
    make_data_dir_private(settings)  # before the migrations create SQLite's files
    tighten_tree(settings.data_dir)  # what an older Loopback left readable
    try:
        declared = config_file.load(settings.providers_file) if settings.providers_file else None
        with embedded_storage(settings) as storage:
            ensure_newest_schema(settings.resolved_database_url)
            runtime = Runtime.from_settings(settings)
            consumer = None
            try:
                with runtime.db.session() as session:
                    result = bootstrap(session, settings)
                    if storage is not None:
                        register_embedded_storage(runtime, session, storage)
                    apply_providers_file(runtime, session, declared, settings.embedded_storage)
                check_secret_key(runtime)
                checks: dict[str, ReadinessCheck] = {}
                if storage is not None:
                    checks["storage"] = storage.check
                if settings.workers:
                    consumer = runtime.automation.create_consumer(settings.workers, embedded=True)
                    consumer.shutdown_timeout = CONSUMER_SHUTDOWN_SECONDS
                    consumer.start()
                    runtime.buckets.resync()  # anything a previous run left half-done
                    # expired keys, ended rotations and keys under an older, wider policy: at once
                    runtime.automation.enqueue("credential.maintain")
                say(banner(settings, result, storage), settings.log_format)
                config = uvicorn.Config(
                    create_app(runtime, checks),
                    host=settings.host,
                    port=settings.port,
                    log_config=None,
                    access_log=True,
                )
                uvicorn.Server(config).run(sockets=[listener])
            finally:
                if consumer is not None:
                    consumer.stop(graceful=True)
                runtime.close()
    except (config_file.ProvidersFileError, StartRefused) as error:
        say(f"error: {error}", settings.log_format)
        raise SystemExit(2) from None
    except (KeyboardInterrupt, SystemExit):
        pass
    say("Loopback stopped.", settings.log_format)
