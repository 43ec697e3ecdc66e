"""The doctor's secrets check: every value sealed in the database opens with the configured keys.

The values are read in batches in id order, so memory stays flat however many there are; only
counts and row ids are reported, never a value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loopback.kit.canary import CANARY_PLAINTEXT
from loopback.kit.secrets import SEALED_TABLES, SealedTable, SecretStore, key_file, load_keys, sealed_batches
from loopback.kit.settings import Settings
from loopback.operations.checks import WHERE_DATABASE, opened, reason
from loopback.operations.findings import Finding, failing, ok

SECRETS = "secrets"
BATCH = 500
FIX_KEY = (
    "give this installation the key they were sealed with: the old data directory's secret.key, "
    "or the same LOOPBACK_SECRET_KEY"
)

# Called after each batch with the rows opened so far and how many there are.
Progress = Callable[[int, int], None]


@dataclass
class Opened:
    """How many values of each kind opened, how many under an older key, and which did not open."""

    opened: dict[str, int] = field(default_factory=dict)
    older_key: int = 0
    closed: list[str] = field(default_factory=list)
    closed_count: int = 0


def configured_keys(settings: Settings) -> list[bytes] | Finding:
    """The installation's keys, read without making a key file when there is none."""
    if settings.secret_key is None and not key_file(settings).is_file():
        return failing(
            SECRETS,
            f"LOOPBACK_SECRET_KEY is unset and there is no key file at {key_file(settings)}",
            f"copy the installation's secret.key to {key_file(settings)}, or set LOOPBACK_SECRET_KEY",
        )
    try:
        keys = load_keys(settings)
        SecretStore(keys)
    except ValueError as error:
        return failing(
            SECRETS, str(error), "set the key as `loopback serve` printed or wrote it (a Fernet key)"
        )
    return keys


def check_secrets(settings: Settings, progress: Progress | None = None) -> Finding:
    keys = configured_keys(settings)
    if isinstance(keys, Finding):
        return keys
    try:
        with opened(settings.resolved_database_url) as engine, Session(engine) as session:
            outcome = open_every_value(
                session, MultiFernet([Fernet(k) for k in keys]), Fernet(keys[0]), progress
            )
    except Exception as error:
        return failing(SECRETS, f"cannot read the sealed values: {reason(error)}", WHERE_DATABASE)
    counted = ", ".join(
        f"{outcome.opened[s.what]} {s.what if outcome.opened[s.what] == 1 else s.plural}"
        for s in SEALED_TABLES
    )
    if outcome.closed_count:
        ids = ", ".join(outcome.closed[:3]) + (" ..." if outcome.closed_count > 3 else "")
        total = outcome.closed_count + sum(outcome.opened.values())
        return failing(
            SECRETS,
            f"{outcome.closed_count} of {total} sealed values do not open with the configured keys ({ids})",
            FIX_KEY,
        )
    older = f"; {outcome.older_key} under an older key" if outcome.older_key else ""
    return ok(SECRETS, f"every sealed value opens: {counted}{older}")


def open_every_value(
    session: Session, keys: MultiFernet, newest: Fernet, progress: Progress | None
) -> Opened:
    total = sum(
        session.scalar(select(func.count()).select_from(s.model).where(s.value_column.is_not(None))) or 0
        for s in SEALED_TABLES
    )
    outcome, seen = Opened(), 0
    for sealed in SEALED_TABLES:
        outcome.opened[sealed.what] = 0
        for rows in sealed_batches(session, sealed, BATCH):
            session.rollback()  # no snapshot held between batches: a live installation keeps writing
            for row_id, value in rows:
                _open(sealed, row_id, value, keys, newest, outcome)
            seen += len(rows)
            if progress is not None:
                progress(seen, max(total, seen))
    return outcome


def _open(
    sealed: SealedTable, row_id: str, value: bytes, keys: MultiFernet, newest: Fernet, outcome: Opened
) -> None:
    try:
        plain = keys.decrypt(value)
    except InvalidToken:
        plain = None
    if plain is None or (sealed.what == "canary" and plain != CANARY_PLAINTEXT):
        outcome.closed_count += 1
        if len(outcome.closed) < 3:
            outcome.closed.append(f"{sealed.what} {row_id}")
        return
    outcome.opened[sealed.what] += 1
    try:
        newest.decrypt(value)
    except InvalidToken:
        outcome.older_key += 1
