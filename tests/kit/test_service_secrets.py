"""The secret store: encrypted at rest, keys rotate, key files are private."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from loopback.kit.secrets import Secret, SecretKeyError, SecretStore, load_keys
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
