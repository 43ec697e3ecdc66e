"""The secret store: values encrypted with MultiFernet, referenced everywhere else by id.

Keys come from ``LOOPBACK_SECRET_KEY`` (comma-separated, newest first, so an old key still
decrypts during rotation) or from a key file created in the data directory on first start.
``rotate_stored_secrets`` re-encrypts everything kept in the database under the newest key, so
the older keys can be retired (``loopback admin rotate-secret-key``); ``prove_secret_key`` opens
the installation's canary (``kit.canary``), which is what ``/readyz`` asks of every process.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import CursorResult, LargeBinary, Row, String, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Mapped, Session, mapped_column

from loopback.kit.canary import CANARY_ID, CANARY_PLAINTEXT, SecretCanary
from loopback.kit.clock import utcnow
from loopback.kit.db import Base, Database
from loopback.kit.errors import LoopbackError
from loopback.kit.files import write_private
from loopback.kit.idempotency import IdempotentRequest
from loopback.kit.ids import new_id
from loopback.kit.settings import Settings


class Secret(Base):
    """One encrypted value; everything else holds only its id."""

    __tablename__ = "secrets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


KEY_FILE = "secret.key"
ROTATION_BATCH = 500
_KEY_SEPARATORS = re.compile(rb"[,\s]+")


class SecretKeyError(LoopbackError):
    slug = "secret-key"
    title = "The secret store cannot decrypt this value"


def _split_keys(raw: bytes) -> list[bytes]:
    return [key for key in _KEY_SEPARATORS.split(raw) if key]


def load_keys(settings: Settings) -> list[bytes]:
    """The configured keys, or the data directory's key file, created with mode 0600 if missing.

    Both hold one key or several, newest first: ``LOOPBACK_SECRET_KEY`` separated by commas, the
    key file by commas or newlines (it holds two while ``rotate_key_file`` runs).
    """
    if settings.secret_key is not None:
        keys = _split_keys(settings.secret_key.get_secret_value().encode())
        if not keys:
            raise ValueError("LOOPBACK_SECRET_KEY is set but holds no key")
        return keys
    path = key_file(settings)
    if not path.exists():
        write_private(path, Fernet.generate_key())
    keys = _split_keys(path.read_bytes())
    if not keys:
        raise ValueError(f"the key file {path} holds no key")
    return keys


def key_file(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


class SecretStore:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("the secret store needs at least one key")
        try:
            fernets = [Fernet(key) for key in keys]
        except ValueError as error:
            raise ValueError(f"a secret key is not a valid Fernet key: {error}") from None
        self._newest = fernets[0]
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plaintext: bytes) -> bytes:
        """Seal bytes kept outside the store (idempotent answers) with the same keys."""
        return self._fernet.encrypt(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            return self._fernet.decrypt(ciphertext)
        except InvalidToken:
            raise SecretKeyError("a value was encrypted with a key that is not configured") from None

    def rotate(self, ciphertext: bytes) -> bytes:
        """The same plaintext (and timestamp) encrypted under the newest key."""
        try:
            return self._fernet.rotate(ciphertext)
        except InvalidToken:
            raise SecretKeyError("a value was encrypted with a key that is not configured") from None

    def is_current(self, ciphertext: bytes) -> bool:
        """Whether the newest key alone opens ``ciphertext`` (so rotating it changes nothing)."""
        try:
            self._newest.decrypt(ciphertext)
        except InvalidToken:
            return False
        return True

    def put(self, session: Session, purpose: str, value: str) -> str:
        """Encrypt and store ``value``; the returned id is all anyone else keeps."""
        secret = Secret(id=new_id("sec"), purpose=purpose, ciphertext=self._fernet.encrypt(value.encode()))
        session.add(secret)
        session.flush()
        return secret.id

    def get(self, session: Session, secret_id: str) -> str:
        secret = session.get(Secret, secret_id)
        if secret is None:
            raise SecretKeyError(f"secret {secret_id} does not exist")
        try:
            return self._fernet.decrypt(secret.ciphertext).decode()
        except InvalidToken:
            raise SecretKeyError(
                f"secret {secret_id} was encrypted with a key that is not configured"
            ) from None

    def replace(self, session: Session, secret_id: str, value: str) -> None:
        secret = session.get(Secret, secret_id)
        if secret is None:
            raise SecretKeyError(f"secret {secret_id} does not exist")
        secret.ciphertext = self._fernet.encrypt(value.encode())


KEY_MISMATCH = (
    "give every process the installation's key: the same LOOPBACK_SECRET_KEY, "
    "or the same key file when it is unset"
)


def prove_secret_key(database: Database, store: SecretStore) -> None:
    """Open the installation's canary with ``store``; seal it first when there is none yet.

    A first start seals it, but only once its key opens a secret stored already (an installation
    upgraded from before the canary, reached first by a replica with the wrong key, must not get
    a canary sealed with that key). Two first starts at once: one insert wins, the other opens it.
    """
    try:
        with database.session() as session:
            canary = session.get(SecretCanary, CANARY_ID)
            if canary is not None:
                _open_canary(store, canary.ciphertext)
                return
            stored = session.scalar(select(Secret.ciphertext).order_by(Secret.created_at, Secret.id).limit(1))
            if stored is not None:
                try:
                    store.decrypt(stored)
                except SecretKeyError:
                    raise SecretKeyError(
                        f"this process's secret key does not open the secrets stored already: {KEY_MISMATCH}"
                    ) from None
            session.add(SecretCanary(id=CANARY_ID, ciphertext=store.encrypt(CANARY_PLAINTEXT)))
    except IntegrityError:  # another process sealed it between our read and our insert
        with database.session() as session:
            canary = session.get(SecretCanary, CANARY_ID)
            if canary is None:
                raise
            _open_canary(store, canary.ciphertext)


def _open_canary(store: SecretStore, ciphertext: bytes) -> None:
    try:
        opened = store.decrypt(ciphertext)
    except SecretKeyError:
        opened = None
    if opened != CANARY_PLAINTEXT:
        raise SecretKeyError(f"the installation's secrets are sealed with another key: {KEY_MISMATCH}")


@dataclass
class RotationReport:
    """What a rotation did: values re-encrypted, and values that were under the newest key already.

    The canary is re-sealed with them and counted apart (it is no secret of anyone's).
    """

    secrets: int = 0
    answers: int = 0
    secrets_current: int = 0
    answers_current: int = 0
    canary: int = 0

    @property
    def already_current(self) -> int:
        return self.secrets_current + self.answers_current


# Called after every committed batch with the table's name, the rows seen so far and its total.
RotationProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SealedTable:
    """A table holding values sealed with the installation's key: what a reader calls one of them,
    and its id and value columns."""

    model: type[Base]
    name: str
    what: str
    plural: str
    id_column: InstrumentedAttribute[str]
    value_column: InstrumentedAttribute[Any]


_SECRETS = SealedTable(Secret, "secrets", "secret", "secrets", Secret.id, Secret.ciphertext)
_ANSWERS = SealedTable(
    IdempotentRequest,
    "idempotent_requests",
    "kept answer",
    "kept answers",
    IdempotentRequest.id,
    IdempotentRequest.body,
)
_CANARY = SealedTable(
    SecretCanary, "secret_canary", "canary", "canaries", SecretCanary.id, SecretCanary.ciphertext
)
# Every value sealed in the database: what a rotation rewrites and the doctor opens.
SEALED_TABLES = (_SECRETS, _ANSWERS, _CANARY)


def sealed_batches(
    session: Session, table: SealedTable, batch_size: int
) -> Iterator[Sequence[Row[str, Any]]]:
    """The table's sealed values, ``(id, value)`` rows, ``batch_size`` at a time in id order (keyset
    pagination, so memory stays flat); the caller ends each batch's transaction before the next."""
    last_id: str | None = None
    while True:
        query = select(table.id_column, table.value_column).where(table.value_column.is_not(None))
        if last_id is not None:
            query = query.where(table.id_column > last_id)
        rows = session.execute(query.order_by(table.id_column).limit(batch_size)).all()
        if not rows:
            return
        yield rows
        last_id = rows[-1][0]


def count_stored_secrets(session: Session) -> tuple[int, int]:
    """How many secrets and kept idempotent answers a rotation goes through."""
    secrets = session.scalar(select(func.count()).select_from(Secret)) or 0
    answers = (
        session.scalar(
            select(func.count()).select_from(IdempotentRequest).where(IdempotentRequest.body.is_not(None))
        )
        or 0
    )
    return secrets, answers


def rotate_stored_secrets(
    session: Session,
    store: SecretStore,
    batch_size: int = ROTATION_BATCH,
    progress: RotationProgress | None = None,
) -> RotationReport:
    """Re-encrypt every row of ``secrets``, every kept idempotent answer and the canary under the newest key.

    Rows are read ``batch_size`` at a time in id order (keyset pagination, so memory stays flat)
    and each batch is one transaction, committed on its own: a value no configured key opens raises
    ``SecretKeyError`` naming it, with its batch rolled back (earlier batches stay rotated). Values
    already under the newest key are left as they are, which makes a second run, or a run after an
    interruption, cheap and harmless. A value rewritten by a live process between our read and our
    write is read again (the write compares the old ciphertext first).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    secrets_total, answers_total = count_stored_secrets(session)
    session.commit()
    report = RotationReport()
    report.secrets, report.secrets_current = _rotate_table(
        session, store, _SECRETS, batch_size, secrets_total, progress
    )
    report.answers, report.answers_current = _rotate_table(
        session, store, _ANSWERS, batch_size, answers_total, progress
    )
    # Last: a process still on only the old key stays ready until the values have moved.
    canaries = session.scalar(select(func.count()).select_from(SecretCanary)) or 0
    report.canary, _ = _rotate_table(session, store, _CANARY, batch_size, canaries, progress)
    return report


def _rotate_table(
    session: Session,
    store: SecretStore,
    table: SealedTable,
    batch_size: int,
    total: int,
    progress: RotationProgress | None,
) -> tuple[int, int]:
    rotated = current = seen = 0
    for rows in sealed_batches(session, table, batch_size):
        try:
            for row_id, value in rows:
                outcome = _rotate_row(session, store, table, row_id, value)
                rotated += outcome == "rotated"
                current += outcome == "current"
        except BaseException:
            session.rollback()
            raise
        session.commit()
        seen += len(rows)
        if progress is not None:
            progress(table.name, seen, max(total, seen))
    return rotated, current


def _rotate_row(session: Session, store: SecretStore, table: SealedTable, row_id: str, value: bytes) -> str:
    """Rewrite one value under the newest key: ``rotated``, ``current`` (it was already) or ``gone``."""
    for _ in range(5):
        if store.is_current(value):
            return "current"
        try:
            rotated = store.rotate(value)
        except SecretKeyError:
            raise SecretKeyError(
                f"{table.what} {row_id} (table {table.name}) cannot be decrypted with any configured key; "
                "nothing of its batch was changed: configure the key it was encrypted with, or delete the row"
            ) from None
        # Compare-and-set: a live process may have rewritten the value since we read it.
        written = session.execute(
            update(table.model)
            .where(table.id_column == row_id, table.value_column == value)
            .values({table.value_column.key: rotated})
            .execution_options(synchronize_session=False)
        )
        if isinstance(written, CursorResult) and written.rowcount == 1:
            return "rotated"
        fresh = session.execute(select(table.value_column).where(table.id_column == row_id)).scalar()
        if fresh is None:
            return "gone"  # deleted meanwhile: a revoked credential, an answer let go or swept
        value = fresh
    raise SecretKeyError(f"{table.what} {row_id} (table {table.name}) kept changing while it was rotated")


@dataclass(frozen=True)
class KeyFileRotation:
    """A rotation of the data directory's key file and of everything encrypted with it."""

    path: Path
    report: RotationReport
    retired: int
    resumed: bool


def rotate_key_file(
    settings: Settings,
    database: Database | None = None,
    *,
    batch_size: int = ROTATION_BATCH,
    progress: RotationProgress | None = None,
) -> KeyFileRotation:
    """Put a new key in the key file, re-encrypt everything under it, then retire the older keys.

    The file holds ``new,old`` while the values are re-encrypted, so an interruption or a value
    that cannot be decrypted loses nothing; a file that holds several keys already (such an
    interrupted run) is resumed with its newest key instead of getting one more. Every process
    reads the file at start only: stop them first, or they keep writing with the old key.
    """
    if settings.secret_key is not None:
        raise ValueError("LOOPBACK_SECRET_KEY is set, so the key file is not used: rotate those keys instead")
    path = key_file(settings)
    if not path.exists():
        raise SecretKeyError(f"there is no key file at {path}, so there is no key to rotate")
    keys = load_keys(settings)
    resumed = len(keys) > 1
    if not resumed:
        keys = [Fernet.generate_key(), *keys]
        _write_key_file(path, keys)
    store = SecretStore(keys)
    db = database or Database(settings.resolved_database_url)
    try:
        with db.session() as session:
            report = rotate_stored_secrets(session, store, batch_size, progress)
    finally:
        if database is None:
            db.dispose()
    _write_key_file(path, keys[:1])
    return KeyFileRotation(path=path, report=report, retired=len(keys) - 1, resumed=resumed)


def _write_key_file(path: Path, keys: list[bytes]) -> None:
    """Replace the key file in one step (a crash leaves the old file or the new one, never half)."""
    partial = path.with_name(f"{path.name}.partial")
    write_private(partial, b",".join(keys) + b"\n")
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
