"""The data directory is its owner's only: 0700, and SQLite's database and queue files 0600.

SQLite creates files with the process's umask (0644 under the usual 022, as in this test
process) and gives its ``-wal`` and ``-shm`` files the database's mode, so the runtime creates
both databases before SQLite does, and tightens ones an older start left open.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopback.kit.settings import Settings
from loopback.migrations import upgrade
from loopback.runtime import Runtime, make_data_dir_private


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most processes run with, whatever this one was started with."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes_under(root: Path) -> dict[str, int]:
    return {
        str(path.relative_to(root)): stat.S_IMODE(os.lstat(path).st_mode)
        for path in [root, *root.rglob("*")]
        if not path.is_symlink()
    }


def test_the_database_the_queue_and_their_journals_are_created_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", embedded_storage=False)
    make_data_dir_private(settings)  # what serve does before the migrations
    upgrade(settings.resolved_database_url)
    runtime = Runtime.from_settings(settings)
    try:
        with runtime.db.session() as session:
            runtime.secrets.put(session, "test", "a value sealed in loopback.db")
        runtime.automation.enqueue("credential.maintain")  # writes queue.db
        runtime.check_secrets()
        modes = modes_under(settings.data_dir)
    finally:
        runtime.close()
    assert {"loopback.db", "loopback.db-wal", "loopback.db-shm", "queue.db", "secret.key"} <= set(modes)
    assert modes["."] == 0o700
    assert {name: mode for name, mode in modes.items() if mode & 0o077} == {}


def test_files_an_older_start_left_open_are_made_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    for name in ("loopback.db", "loopback.db-wal", "queue.db"):
        (data / name).touch()
        (data / name).chmod(0o644)
    make_data_dir_private(Settings(data_dir=data))
    assert {name: mode for name, mode in modes_under(data).items() if mode & 0o077} == {}
