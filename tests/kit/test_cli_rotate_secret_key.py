"""``loopback admin rotate-secret-key``: every stored secret and kept answer moves to the newest key.

The installation here runs on ``OLD`` (in ``LOOPBACK_SECRET_KEY``, or in the key file), so the
bootstrap's own secrets (provider ``local``'s keys) and the canary ``/readyz`` opens are under it
too; each test proves its outcome by opening every value with ``NEW`` alone and failing to with
``OLD`` alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import delete, select
from typer.testing import CliRunner, Result

from loopback.app import create_app
from loopback.cli import app
from loopback.kit.canary import CANARY_ID, CANARY_PLAINTEXT, SecretCanary
from loopback.kit.db import Database
from loopback.kit.files import write_private
from loopback.kit.idempotency import Claimed, IdempotencyStore, IdempotentRequest, caller_of, fingerprint_of
from loopback.kit.secrets import (
    KEY_FILE,
    Secret,
    SecretKeyError,
    SecretStore,
    load_keys,
    rotate_stored_secrets,
)
from loopback.kit.settings import Settings
from loopback.runtime import Runtime
from tests.conftest import BUCKETS, OPERATOR_HEADERS, Databases, unique_bucket_name


@dataclass(frozen=True)
class Keys:
    old: bytes
    new: bytes


@pytest.fixture
def keys() -> Keys:
    return Keys(old=Fernet.generate_key(), new=Fernet.generate_key())


@pytest.fixture
def settings(databases: Databases, tmp_path: Path, keys: Keys) -> Settings:
    """The shared fixture's installation, but with its secrets under ``OLD`` from the start."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=databases.database_url,
        queue_url=databases.queue_url,
        queue_name=databases.queue_name,
        bootstrap_token="lbk_test-operator-token",
        embedded_storage=False,
        secret_key=SecretStr(keys.old.decode()),
    )


def rotate(settings: Settings, secret_key: str | None, *args: str) -> Result:
    """The command as an operator runs it: everything from the environment."""
    env = {
        "LOOPBACK_DATABASE_URL": settings.resolved_database_url,
        "LOOPBACK_DATA_DIR": str(settings.data_dir),
        "LOOPBACK_SECRET_KEY": secret_key,
    }
    return CliRunner().invoke(app, ["admin", "rotate-secret-key", *args], env=env)


@dataclass
class Stored:
    secrets: dict[str, str]
    answers: dict[str, bytes]


def store_values(runtime: Runtime, count: int = 5) -> Stored:
    """``count`` secrets and ``count`` kept answers under the runtime's key, one running request,
    and the canary, sealed as at first start."""
    runtime.check_secrets()
    stored = Stored({}, {})
    with runtime.db.session() as session:
        for n in range(count):
            stored.secrets[runtime.secrets.put(session, "test", f"secret-value-{n}")] = f"secret-value-{n}"
    idempotency = IdempotencyStore(runtime.db)
    caller = caller_of("Bearer lbk_someone")
    for n in range(count + 1):
        claim = idempotency.claim(caller, f"key-{n}", fingerprint_of("POST", "/v3/x", b"", str(n).encode()))
        assert isinstance(claim, Claimed)
        if n < count:  # the last one stays running, with no answer to re-encrypt
            body = json.dumps({"answer": n}).encode()
            idempotency.finish(
                claim.record_id, 201, [["content-type", "application/json"]], runtime.secrets.encrypt(body)
            )
            stored.answers[claim.record_id] = body
    return stored


def all_values(database: Database) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Every ciphertext in the database: the secrets table's and the kept answers', by id."""
    with database.session() as session:
        secrets = {row.id: row.ciphertext for row in session.scalars(select(Secret))}
        answers = {
            row.id: row.body for row in session.scalars(select(IdempotentRequest)) if row.body is not None
        }
    return secrets, answers


def assert_only_key_opens(database: Database, opens: bytes, fails: bytes, stored: Stored) -> None:
    secrets, answers = all_values(database)
    assert len(secrets) > len(stored.secrets)  # the bootstrap's provider keys are among them
    assert set(stored.secrets) <= set(secrets)
    assert set(answers) == set(stored.answers)
    good, bad = SecretStore([opens]), SecretStore([fails])
    for secret_id, ciphertext in secrets.items():
        plaintext = good.decrypt(ciphertext).decode()
        if secret_id in stored.secrets:
            assert plaintext == stored.secrets[secret_id]
        with pytest.raises(SecretKeyError):
            bad.decrypt(ciphertext)
    for answer_id, ciphertext in answers.items():
        assert good.decrypt(ciphertext) == stored.answers[answer_id]
        with pytest.raises(SecretKeyError):
            bad.decrypt(ciphertext)
    with database.session() as session:
        canary = session.get(SecretCanary, CANARY_ID)
        assert canary is not None
        assert good.decrypt(canary.ciphertext) == CANARY_PLAINTEXT
        with pytest.raises(SecretKeyError):
            bad.decrypt(canary.ciphertext)


def test_rotation_moves_every_secret_and_kept_answer_to_the_newest_key(
    runtime: Runtime, settings: Settings, keys: Keys
) -> None:
    stored = store_values(runtime)
    assert_only_key_opens(runtime.db, keys.old, keys.new, stored)
    total_secrets = len(all_values(runtime.db)[0])

    result = rotate(settings, f"{keys.new.decode()},{keys.old.decode()}", "--batch-size", "2")

    assert result.exit_code == 0, result.output
    assert (
        f"re-encrypted {total_secrets} secrets and {len(stored.answers)} kept answers under the newest key; "
        "the older keys (1) can now be removed from LOOPBACK_SECRET_KEY" in result.stdout
    )
    assert f"secrets: 2/{total_secrets}" in result.stderr  # a line per batch
    assert f"idempotent_requests: {len(stored.answers)}/{len(stored.answers)}" in result.stderr
    assert "secret_canary: 1/1" in result.stderr
    assert_only_key_opens(runtime.db, keys.new, keys.old, stored)
    with Database(settings.resolved_database_url).session() as session:
        for secret_id, value in stored.secrets.items():
            assert SecretStore([keys.new]).get(session, secret_id) == value


def test_a_second_run_is_harmless(runtime: Runtime, settings: Settings, keys: Keys) -> None:
    stored = store_values(runtime, count=3)
    both = f"{keys.new.decode()},{keys.old.decode()}"
    assert rotate(settings, both).exit_code == 0
    after_first = all_values(runtime.db)

    again = rotate(settings, both)

    assert again.exit_code == 0, again.output
    total = len(after_first[0]) + len(after_first[1])
    assert (
        f"re-encrypted 0 secrets and 0 kept answers under the newest key ({total} were under it already)"
        in (again.stdout)
    )
    assert all_values(runtime.db) == after_first  # not one byte rewritten
    assert_only_key_opens(runtime.db, keys.new, keys.old, stored)


def test_one_configured_key_has_nothing_to_retire(runtime: Runtime, settings: Settings, keys: Keys) -> None:
    stored = store_values(runtime, count=2)
    before = all_values(runtime.db)

    result = rotate(settings, keys.old.decode())

    assert result.exit_code == 0, result.output
    assert "holds one key: there is nothing older to retire" in result.stdout
    suggested = re.search(r"LOOPBACK_SECRET_KEY=([A-Za-z0-9_=-]+),<the current key>", result.stdout)
    assert suggested is not None, result.stdout
    Fernet(suggested.group(1).encode())  # a real key, ready to put first
    assert keys.old.decode() not in result.output
    assert all_values(runtime.db) == before
    assert_only_key_opens(runtime.db, keys.old, keys.new, stored)


def test_an_undecryptable_secret_fails_naming_it_and_changes_nothing_of_its_batch(
    runtime: Runtime, settings: Settings, keys: Keys
) -> None:
    stored = store_values(runtime, count=3)
    lost = "sec_zzzz-encrypted-with-a-lost-key"  # sorts last: the batch holds the good rows too
    with runtime.db.session() as session:
        session.add(Secret(id=lost, purpose="test", ciphertext=Fernet(Fernet.generate_key()).encrypt(b"x")))
    before = all_values(runtime.db)

    result = rotate(settings, f"{keys.new.decode()},{keys.old.decode()}")

    assert result.exit_code == 1
    assert f"secret {lost} (table secrets) cannot be decrypted with any configured key" in result.stderr
    assert "Traceback" not in result.output
    assert all_values(runtime.db) == before

    with runtime.db.session() as session:
        session.execute(delete(Secret).where(Secret.id == lost))
    assert rotate(settings, f"{keys.new.decode()},{keys.old.decode()}").exit_code == 0
    assert_only_key_opens(runtime.db, keys.new, keys.old, stored)


def test_an_undecryptable_kept_answer_is_named(runtime: Runtime, settings: Settings, keys: Keys) -> None:
    store_values(runtime, count=1)
    with runtime.db.session() as session:
        answer = session.scalars(select(IdempotentRequest).where(IdempotentRequest.body.is_not(None))).one()
        answer.body = Fernet(Fernet.generate_key()).encrypt(b"{}")
        answer_id = answer.id

    result = rotate(settings, f"{keys.new.decode()},{keys.old.decode()}")

    assert result.exit_code == 1
    assert f"kept answer {answer_id} (table idempotent_requests) cannot be decrypted" in result.stderr


def key_file_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"secret_key": None})


def test_key_file_mode_end_to_end(runtime: Runtime, settings: Settings, keys: Keys) -> None:
    stored = store_values(runtime)
    path = settings.data_dir / KEY_FILE
    write_private(path, keys.old)  # an installation that ran on its key file

    result = rotate(settings, None, "--batch-size", "3")

    assert result.exit_code == 0, result.output
    assert f"put a new key in {path}; re-encrypted" in result.stdout
    assert "the older key is removed from the file" in result.stdout
    assert path.stat().st_mode & 0o777 == 0o600
    assert not list(settings.data_dir.glob(f"{KEY_FILE}.*"))
    [new_key] = load_keys(key_file_settings(settings))
    assert new_key != keys.old
    assert_only_key_opens(runtime.db, new_key, keys.old, stored)
    restarted = Runtime.from_settings(key_file_settings(settings))
    try:
        with restarted.db.session() as session:
            for secret_id, value in stored.secrets.items():
                assert restarted.secrets.get(session, secret_id) == value
    finally:
        restarted.close()

    again = rotate(settings, None)
    assert again.exit_code == 0, again.output
    [newer_key] = load_keys(key_file_settings(settings))
    assert newer_key not in (new_key, keys.old)  # every run retires the key it found
    assert_only_key_opens(runtime.db, newer_key, new_key, stored)


def test_an_interrupted_key_file_rotation_resumes_with_its_new_key(
    runtime: Runtime, settings: Settings, keys: Keys
) -> None:
    stored = store_values(runtime, count=3)
    path = settings.data_dir / KEY_FILE
    write_private(path, keys.old + b"\n")
    lost = "sec_zzzz-encrypted-with-a-lost-key"
    with runtime.db.session() as session:
        session.add(Secret(id=lost, purpose="test", ciphertext=Fernet(Fernet.generate_key()).encrypt(b"x")))

    failed = rotate(settings, None, "--batch-size", "2")

    assert failed.exit_code == 1
    assert f"secret {lost} (table secrets) cannot be decrypted" in failed.stderr
    assert "keeps the new key and the old one" in failed.stderr
    new_key, old_key = load_keys(key_file_settings(settings))
    assert old_key == keys.old
    assert path.stat().st_mode & 0o777 == 0o600
    with runtime.db.session() as session:
        session.execute(delete(Secret).where(Secret.id == lost))

    resumed = rotate(settings, None, "--batch-size", "2")

    assert resumed.exit_code == 0, resumed.output
    assert f"resumed the rotation of {path}" in resumed.stdout
    assert load_keys(key_file_settings(settings)) == [new_key]  # no third key
    assert_only_key_opens(runtime.db, new_key, keys.old, stored)


def test_the_function_reports_counts_and_rejects_a_zero_batch(runtime: Runtime, keys: Keys) -> None:
    stored = store_values(runtime, count=4)
    total_secrets = len(all_values(runtime.db)[0])
    store = SecretStore([keys.new, keys.old])
    seen: list[tuple[str, int, int]] = []
    with runtime.db.session() as session:
        report = rotate_stored_secrets(session, store, 3, lambda *progress: seen.append(progress))
        assert (report.secrets, report.answers, report.already_current) == (total_secrets, 4, 0)
        assert report.canary == 1
        again = rotate_stored_secrets(session, store)
        assert (again.secrets, again.answers, again.already_current) == (0, 0, total_secrets + 4)
        with pytest.raises(ValueError, match="batch_size"):
            rotate_stored_secrets(session, store, 0)
    assert seen[-1] == ("secret_canary", 1, 1)  # last, once every value it stands for has moved
    assert [entry for entry in seen if entry[0] == "idempotent_requests"][-1] == ("idempotent_requests", 4, 4)
    assert [entry for entry in seen if entry[0] == "secrets"][-1] == ("secrets", total_secrets, total_secrets)
    assert_only_key_opens(runtime.db, keys.new, keys.old, stored)


def test_the_key_file_may_hold_several_keys_newest_first(tmp_path: Path) -> None:
    first, second, third = (Fernet.generate_key() for _ in range(3))
    write_private(tmp_path / KEY_FILE, first + b",\n" + second + b"\n" + third + b"\n")
    assert load_keys(Settings(data_dir=tmp_path)) == [first, second, third]
    write_private(tmp_path / KEY_FILE, b" \n")
    with pytest.raises(ValueError, match="holds no key"):
        load_keys(Settings(data_dir=tmp_path))


def test_a_kept_answer_still_replays_once_the_old_key_is_gone(
    runtime: Runtime, settings: Settings, keys: Keys
) -> None:
    create = {"name": unique_bucket_name("rot"), "provider": "local", "region": "local-1"}
    once = {"Idempotency-Key": "create-once"}
    with TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as old_only:
        assert old_only.get("/readyz").status_code == 200  # seals the canary under OLD
        created = old_only.post(BUCKETS, json=create, headers=once)
    assert created.status_code == 202, created.text

    result = rotate(settings, f"{keys.new.decode()},{keys.old.decode()}")
    assert result.exit_code == 0, result.output
    assert "and 1 kept answers" in result.stdout

    new_only_settings = settings.model_copy(update={"secret_key": SecretStr(keys.new.decode())})
    restarted = Runtime.from_settings(new_only_settings)
    try:
        with TestClient(create_app(restarted), headers=OPERATOR_HEADERS) as new_only:
            assert new_only.get("/readyz").status_code == 200  # the canary was re-sealed under NEW
            replayed = new_only.post(BUCKETS, json=create, headers=once)
        assert replayed.status_code == 202, replayed.text
        assert replayed.headers["idempotent-replayed"] == "true"
        assert replayed.json() == created.json()
        with restarted.db.session() as session:
            for secret_id in session.scalars(select(Secret.id)):
                restarted.secrets.get(session, secret_id)  # provider local's keys open with NEW alone
    finally:
        restarted.close()
    with TestClient(create_app(runtime)) as left_on_old:  # a replica nobody restarted
        answer = left_on_old.get("/readyz")
    assert answer.status_code == 503, answer.text
    assert answer.json()["checks"]["secrets"].startswith("failing: SecretKeyError")


def test_a_value_rewritten_meanwhile_is_rotated_as_it_is_now(runtime: Runtime, keys: Keys) -> None:
    """The write compares the ciphertext it read, so a live process's newer value is never lost."""
    from loopback.kit.secrets import _SECRETS, _rotate_row

    with runtime.db.session() as session:
        secret_id = runtime.secrets.put(session, "test", "first")
        stale = session.get(Secret, secret_id)
        assert stale is not None
        read_before = stale.ciphertext
        runtime.secrets.replace(session, secret_id, "second")  # another process, after our read
    store = SecretStore([keys.new, keys.old])
    with runtime.db.session() as session:
        assert _rotate_row(session, store, _SECRETS, secret_id, read_before) == "rotated"
    with runtime.db.session() as session:
        assert SecretStore([keys.new]).get(session, secret_id) == "second"
        session.execute(delete(Secret).where(Secret.id == secret_id))
    with runtime.db.session() as session:
        assert _rotate_row(session, store, _SECRETS, secret_id, read_before) == "gone"
