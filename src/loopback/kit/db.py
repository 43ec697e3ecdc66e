"""The database: engine, sessions and the declarative base shared by every domain's models."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that comes back timezone-aware in UTC, also from SQLite, which drops the zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use kit.clock.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while worker threads write; the busy timeout waits out short locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """An engine whose pool keeps ``pool_size`` connections open once made: a request never opens one.

    Connections are made on first need, up to ``pool_size`` kept and as many again for a burst
    (those are closed when given back). SQLAlchemy's default of 5 + 10 for 40 request threads
    opened and closed connections under load.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)


class CommitObserver(Protocol):
    """Told what a unit of work inserts and when it commits, inside the block that observes it.

    The idempotency middleware is one: it writes its record's reference to what a request made
    into the very transaction that makes it (``kit.idempotency``).
    """

    def flushed(self, session: Session) -> None: ...

    def committing(self, session: Session) -> None: ...

    def rolled_back(self, session: Session) -> None: ...


# Set by a request's middleware; worker threads the request starts (anyio) see it too.
_observer: ContextVar[CommitObserver | None] = ContextVar("commit_observer", default=None)


@contextmanager
def observing_commits(observer: CommitObserver | None) -> Iterator[None]:
    """Every session's flushes and commits inside this block (this task, its threads) reach ``observer``."""
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)


def bookkeeping() -> AbstractContextManager[None]:
    """Commits that keep a request's books, not the change it asked for: no observer sees them.

    A token's last use, a refusal's audit event, the idempotency record itself.
    """
    return observing_commits(None)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    observer = _observer.get()
    if observer is not None:
        observer.flushed(session)  # new, dirty and deleted still say what this flush wrote


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    observer = _observer.get()
    if observer is not None:
        observer.committing(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    observer = _observer.get()
    if observer is not None:
        observer.rolled_back(session)


class UncommittedChange(RuntimeError):
    """A request ended with changes no service committed: a bug, never a silent write."""


class Database:
    """An engine and its session factory; one per process and database URL."""

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends cleanly and rolls back otherwise."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def request_session(self) -> Iterator[Session]:
        """A request's session: services commit their own changes in it; this one never commits.

        Whatever is still pending when the route returns was never committed by a service, and is
        an error rather than a silent write; it is rolled back either way.
        """
        with self._sessions() as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise
            pending = bool(
                session.new or session.deleted or any(session.is_modified(o) for o in session.dirty)
            )
            session.rollback()
            if pending:
                raise UncommittedChange(
                    "a route left changes no service committed; services commit their own"
                )

    def dispose(self) -> None:
        self.engine.dispose()
