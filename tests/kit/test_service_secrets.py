"""The secret store: encrypted at rest, keys rotate, key files are private, the canary proves the key."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import func, select

from loopback.kit.canary import CANARY_ID, CANARY_PLAINTEXT, SecretCanary
from loopback.kit.secrets import Secret, SecretKeyError, SecretStore, load_keys, prove_secret_key
from loopback.kit.settings import Settings
from loopback.runtime import Runtime


def test_values_are_stored_encrypted_and_read_back(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        secret_id = runtime.secrets.put(session, "test", "hunter2-very-secret")
    with runtime.db.session() as session:
        row = session.get(Secret, secret_id)
        assert row is not None
        assert b"hunter2" not in row.ciphertext
        assert runtime.secrets.get(session, secret_id) == "hunter2-very-secret"


def test_a_rotated_key_still_reads_old_values(runtime: Runtime) -> None:
    old_key, new_key = Fernet.generate_key(), Fernet.generate_key()
    with runtime.db.session() as session:
        secret_id = SecretStore([old_key]).put(session, "test", "written-with-old")
        assert SecretStore([new_key, old_key]).get(session, secret_id) == "written-with-old"
        with pytest.raises(SecretKeyError):
            SecretStore([new_key]).get(session, secret_id)


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_keys(settings)
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert load_keys(settings) == first


def test_configured_keys_win_over_the_file(tmp_path: Path) -> None:
    keys = [Fernet.generate_key(), Fernet.generate_key()]
    settings = Settings(data_dir=tmp_path, secret_key=SecretStr(",".join(k.decode() for k in keys)))
    assert load_keys(settings) == keys
    assert not (tmp_path / "secret.key").exists()
    with pytest.raises(ValueError, match="not a valid Fernet key"):
        SecretStore([b"not-a-key"])


def canary_of(runtime: Runtime) -> bytes | None:
    with runtime.db.session() as session:
        canary = session.get(SecretCanary, CANARY_ID)
        return None if canary is None else canary.ciphertext


def test_the_first_proof_seals_the_canary_and_only_its_key_opens_it(runtime: Runtime) -> None:
    assert canary_of(runtime) is None
    runtime.check_secrets()
    sealed = canary_of(runtime)
    assert sealed is not None
    assert CANARY_PLAINTEXT not in sealed
    assert runtime.secrets.decrypt(sealed) == CANARY_PLAINTEXT

    runtime.check_secrets()  # a second proof opens it, and rewrites nothing
    assert canary_of(runtime) == sealed
    other = Fernet.generate_key()
    with pytest.raises(SecretKeyError, match="sealed with another key: give every process"):
        prove_secret_key(runtime.db, SecretStore([other]))
    [current] = load_keys(runtime.settings)
    prove_secret_key(runtime.db, SecretStore([other, current]))  # during a rotation: both keys
    assert canary_of(runtime) == sealed


def test_an_installation_from_before_the_canary_is_sealed_only_by_its_own_key(runtime: Runtime) -> None:
    """The bootstrap stored provider ``local``'s keys: a process whose key does not open them seals
    nothing, so a replica started first with the wrong key cannot make the right ones look wrong."""
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Secret))
    with pytest.raises(SecretKeyError, match="does not open the secrets stored already"):
        prove_secret_key(runtime.db, SecretStore([Fernet.generate_key()]))
    assert canary_of(runtime) is None
    runtime.check_secrets()
    assert canary_of(runtime) is not None


def test_a_canary_that_another_process_sealed_meanwhile_is_opened(runtime: Runtime) -> None:
    """Two first starts at once: the insert that loses the race opens the winner's canary."""
    [key] = load_keys(runtime.settings)
    racing = [SecretStore([key]) for _ in range(4)]
    errors: list[BaseException] = []

    def prove(store: SecretStore) -> None:
        try:
            prove_secret_key(runtime.db, store)
        except BaseException as error:  # collected: the assertion below names it
            errors.append(error)

    threads = [threading.Thread(target=prove, args=(store,)) for store in racing]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(SecretCanary)) == 1
