"""The doctor's checks of the installation's parts: database, queue, clock and data directory.

Each answers findings and changes nothing: a missing SQLite file is reported, never created, and
a SQLite queue that does not exist yet is left for ``serve`` to make.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from loopback.automation.backlog import Backlog
from loopback.kit.db import make_engine
from loopback.kit.files import PRIVATE_DIR
from loopback.kit.settings import Settings
from loopback.operations.findings import Finding, failing, ok, warning
from loopback.operations.schema import schema_state

DATABASE = "database"
QUEUE = "queue"
CLOCK = "clock"
DATA_DIR = "data directory"

# The rounds elect a worker per period on the wall clock (automation.queue.RoundScheduler) and the
# shortest period is 15 s (the webhook relay): clocks must agree well within it.
CLOCK_WARNING_SECONDS = 2.0
CLOCK_FAILING_SECONDS = 10.0
# A task waiting longer than this means no worker takes tasks, or too few for the load.
QUEUE_AGE_WARNING_SECONDS = 300.0

WHERE_DATABASE = (
    "set LOOPBACK_DATA_DIR to the data directory of `loopback serve` (or run this where it runs), "
    "or LOOPBACK_DATABASE_URL to its database"
)


MIGRATE = "run `loopback migrate` (`serve` and `worker` do it at start)"


def shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database (or SQLite in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


@contextmanager
def opened(url: str) -> Iterator[Engine]:
    """An engine of one connection, disposed after; a SQLite file must exist already."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"no database file at {path}")
    engine = make_engine(url, pool_size=1)
    try:
        yield engine
    finally:
        engine.dispose()


def reason(error: BaseException) -> str:
    """An error in one line: the driver's own message when there is one."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__


def check_database(settings: Settings) -> tuple[Finding, bool]:
    """The database's finding, and whether its tables are there for the checks that read them."""
    url = settings.resolved_database_url
    try:
        with opened(url) as engine, engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            state = schema_state(connection)
    except Exception as error:
        return failing(DATABASE, f"cannot use {shown_url(url)}: {reason(error)}", WHERE_DATABASE), False
    where = shown_url(url)
    if state.unknown:
        return failing(
            DATABASE,
            f"{where} is at revision {state.revision}, which this Loopback does not know "
            "(a newer one migrated it)",
            "run the Loopback version that migrated it, or upgrade this one",
        ), True
    if not state.current:
        return warning(DATABASE, f"{where} has no schema yet", MIGRATE), False
    if not state.at_head:
        return warning(
            DATABASE, f"{where} is at revision {state.revision}, behind {','.join(state.heads)}", MIGRATE
        ), True
    return ok(DATABASE, f"{where} answers, schema at revision {state.revision} (newest)"), True


def check_clock(settings: Settings, local_now: Callable[[], datetime] | None = None) -> Finding:
    """The database's clock against this machine's: rounds and leases compare the two."""
    url = settings.resolved_database_url
    if sqlite_path(url) is not None:
        return ok(CLOCK, "same machine: SQLite reads this machine's clock")
    now = local_now or (lambda: datetime.now(UTC))
    try:
        with opened(url) as engine, engine.connect() as connection:
            skew = _skew(connection, now)
    except Exception as error:
        return failing(CLOCK, f"cannot read the database's clock: {reason(error)}", WHERE_DATABASE)
    return clock_finding(skew)


def _skew(connection: Connection, now: Callable[[], datetime]) -> float:
    """Seconds the database's clock is ahead of this machine's, against the middle of the query."""
    connection.execute(text("SELECT 1"))  # connected and warm: the round trip below is the query alone
    before = now()
    started = time.perf_counter()
    remote = connection.execute(text("SELECT now()")).scalar_one()
    middle = before.timestamp() + (time.perf_counter() - started) / 2
    return float(remote.timestamp() - middle)


def clock_finding(skew: float) -> Finding:
    off = f"the database's clock is {abs(skew):.2f} s {'ahead of' if skew >= 0 else 'behind'} this machine's"
    fix = "run NTP (chrony, systemd-timesyncd) on this machine and on the database's"
    if abs(skew) >= CLOCK_FAILING_SECONDS:
        return failing(CLOCK, off, fix)
    if abs(skew) >= CLOCK_WARNING_SECONDS:
        return warning(CLOCK, off, fix)
    return ok(CLOCK, off)


def check_data_dir(settings: Settings) -> Finding:
    """The data directory 0700 and its SQLite files and key file 0600, as ``serve`` makes them."""
    from loopback.runtime import sqlite_files

    directory = settings.data_dir.resolve()
    if not directory.is_dir() and not sqlite_files(settings) and settings.secret_key is not None:
        return ok(DATA_DIR, f"{directory} is not used here: the database, queue and key are elsewhere")
    if not directory.is_dir():
        return warning(
            DATA_DIR,
            f"{directory} does not exist",
            "start `loopback serve` once, or set LOOPBACK_DATA_DIR to its data directory",
        )
    mode = stat.S_IMODE(directory.stat().st_mode)
    if mode != PRIVATE_DIR:
        return failing(
            DATA_DIR,
            f"{directory} is {mode:04o}, not 0700: others may read its keys and databases",
            f"chmod 700 {directory} (`loopback serve` tightens it and its files at start)",
        )
    exposed = [
        path for path in _private_files(settings) if os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    ]
    if exposed:
        names = ", ".join(str(path) for path in exposed[:3])
        return failing(
            DATA_DIR, f"readable by others: {names}", f"chmod 600 {' '.join(str(p) for p in exposed)}"
        )
    return ok(DATA_DIR, f"{directory} is 0700, its keys and databases 0600")


def _private_files(settings: Settings) -> list[Path]:
    from loopback.runtime import SQLITE_COMPANIONS, sqlite_files  # loaded by the doctor, not by a backup

    found = [settings.data_dir / "secret.key", settings.data_dir / "bootstrap-token"]
    for database in sqlite_files(settings):
        found += [database, *(database.with_name(database.name + s) for s in SQLITE_COMPANIONS)]
    return [path for path in found if path.exists()]


def queue_finding(backlog: Backlog) -> Finding:
    age = backlog.oldest_age_seconds
    waited = "" if age is None else f", the oldest waiting {age:.0f} s"
    detail = f"{backlog.depth} task{'s' if backlog.depth != 1 else ''} waiting{waited}"
    if age is not None and age > QUEUE_AGE_WARNING_SECONDS:
        return warning(
            QUEUE,
            detail,
            "start a worker (`loopback serve`, or `loopback worker` beside it), or more of them",
        )
    return ok(QUEUE, detail)


def check_queue(settings: Settings) -> Finding:
    from loopback.automation.backlog import backlog
    from loopback.automation.queue import make_huey

    url = settings.queue_url
    if url is None or url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///")) if url else settings.data_dir / "queue.db"
        if not path.is_file():
            return warning(
                QUEUE, f"no queue at {path} yet", "start `loopback serve` once: it makes the queue"
            )
    try:
        found = backlog(make_huey(settings))
    except Exception as error:
        return failing(
            QUEUE,
            f"cannot reach the queue: {reason(error)}",
            "check LOOPBACK_QUEUE_URL and that its Redis answers",
        )
    return queue_finding(found)
