"""``loopback backup create`` and ``restore``: a populated installation, backed up while it runs,
restored elsewhere, reads the same; a wrong key, a full target and a damaged file are each caught."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import tarfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from loopback.kit.db import make_engine
from loopback.kit.files import write_private
from loopback.kit.ids import new_id
from loopback.kit.secrets import Secret, key_file
from loopback.kit.settings import Settings
from loopback.migrations import upgrade
from loopback.runtime import Runtime
from loopback.tenancy.models import AuditEvent
from tests.conftest import wait_for
from tests.operations.cli import doctor, loopback
from tests.operations.installations import counts, empty_installation, populate, tables


@pytest.fixture
def target(runtime: Runtime, tmp_path: Path) -> Iterator[Settings]:
    yield from empty_installation(runtime.settings, tmp_path)


def backed_up(settings: Settings, path: Path) -> dict[str, object]:
    made = loopback(settings, "backup", "create", str(path), "--output", "json")
    assert made.exit_code == 0, made.output
    answer: dict[str, object] = json.loads(made.stdout)
    return answer


def test_a_backup_restored_into_a_new_installation_reads_the_same(
    runtime: Runtime, target: Settings, tmp_path: Path
) -> None:
    populated = populate(runtime)
    assert populated["buckets"] == 2
    assert populated["credentials"] == 2
    assert populated["usage_samples"] >= 2
    assert populated["audit_events"] >= 4
    archive = tmp_path / "installation.tar.gz"
    made = backed_up(runtime.settings, archive)
    manifest = made["manifest"]
    assert isinstance(manifest, dict)
    assert manifest["row_counts"] == populated
    assert manifest["format_version"] == 1
    assert archive.stat().st_mode & 0o777 == 0o600
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == sorted(["manifest.json", manifest["database_file"]])
    key = key_file(runtime.settings).read_bytes().strip()
    assert key not in gzip.decompress(archive.read_bytes())  # never the secret key

    restored = loopback(target, "backup", "restore", str(archive))
    assert restored.exit_code == 0, restored.output
    assert "schema at the newest revision" in restored.stdout
    engine = make_engine(target.resolved_database_url, pool_size=1)
    try:
        assert tables(engine) == tables(runtime.db.engine)  # buckets, keys, audit, samples: every row
    finally:
        engine.dispose()

    write_private(key_file(target), key)  # the same key, kept apart from the backup
    code, findings, _ = doctor(target)
    assert findings["secrets"]["status"] == "ok", findings
    assert findings["provider local"]["status"] == "ok", findings
    assert code in (0, 1)  # a warning at most: a SQLite queue is made by the first `serve`

    write_private(key_file(target), Fernet.generate_key())  # restored with another installation's key
    code, findings, _ = doctor(target, "--no-providers")
    assert code == 2
    assert findings["secrets"]["status"] == "failing"
    assert "do not open" in findings["secrets"]["detail"]


def test_a_restore_into_an_installation_that_holds_data_is_refused_and_changes_nothing(
    runtime: Runtime, tmp_path: Path
) -> None:
    archive = tmp_path / "installation.tar.gz"
    backed_up(runtime.settings, archive)
    before = tables(runtime.db.engine)
    refused = loopback(runtime.settings, "backup", "restore", str(archive))
    assert refused.exit_code == 3, refused.output
    assert "is not empty" in refused.output
    assert "LOOPBACK_DATA_DIR" in refused.output
    assert tables(runtime.db.engine) == before


def test_a_damaged_or_foreign_file_is_refused_before_anything_is_written(
    runtime: Runtime, target: Settings, tmp_path: Path
) -> None:
    archive = tmp_path / "installation.tar.gz"
    backed_up(runtime.settings, archive)
    again = loopback(runtime.settings, "backup", "create", str(archive))
    assert again.exit_code == 1
    assert "exists already" in again.output

    damaged = rewritten(
        archive, tmp_path / "damaged.tar.gz", "database", lambda c: c[:-1] + bytes([c[-1] ^ 1])
    )
    refused = loopback(target, "backup", "restore", str(damaged))
    assert refused.exit_code == 1, refused.output
    assert "is damaged" in refused.output
    assert "checksum" in refused.output

    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a backup\n")
    refused = loopback(target, "backup", "restore", str(foreign))
    assert refused.exit_code == 1
    assert "is not a Loopback backup" in refused.output

    if _sqlite(target):
        assert not target.data_dir.exists()  # nothing was made for a refused restore
        return
    engine = make_engine(target.resolved_database_url, pool_size=1)
    try:
        assert counts(engine) == {}
    finally:
        engine.dispose()


def test_without_pg_dump_a_postgresql_backup_says_what_to_install(runtime: Runtime, tmp_path: Path) -> None:
    if _sqlite(runtime.settings):
        pytest.skip("SQLite is copied by Python's sqlite3: no tool is needed")
    refused = loopback(runtime.settings, "backup", "create", str(tmp_path / "b.tar.gz"), PATH=str(tmp_path))
    assert refused.exit_code == 1
    assert "pg_dump is not on PATH" in refused.output
    assert not (tmp_path / "b.tar.gz").exists()


def rewritten(archive: Path, into: Path, member_prefix: str, change: Callable[[bytes], bytes]) -> Path:
    """A copy of ``archive`` whose member starting with ``member_prefix`` went through ``change``."""
    with tarfile.open(archive) as source, tarfile.open(into, "w:gz") as copy:
        for member in source.getmembers():
            body = source.extractfile(member)
            assert body is not None
            content = body.read()
            if member.name.startswith(member_prefix):
                content = change(content)
                member.size = len(content)
            copy.addfile(member, fileobj=io.BytesIO(content))
    return into


def _sqlite(settings: Settings) -> bool:
    return make_url(settings.resolved_database_url).get_backend_name() == "sqlite"


def test_a_backup_taken_while_transactions_commit_holds_each_whole_or_not_at_all(
    runtime: Runtime, target: Settings, tmp_path: Path
) -> None:
    """A writer commits an audit event and a secret together, again and again, through the backup:
    the copy holds as many of one as of the other (one snapshot across tables), and its counts are
    the manifest's (the restore checks them)."""
    written = itertools.count(1)
    done = [0]
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            with runtime.db.session() as session:
                runtime.secrets.put(session, PAIRED, "paired value")
                session.add(AuditEvent(id=new_id("aud"), action=PAIRED, outcome="ok"))
            done[0] = next(written)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_for(lambda: done[0] >= 5)
        backed_up(runtime.settings, tmp_path / "live.tar.gz")
        at_backup = done[0]
        wait_for(lambda: done[0] > at_backup)  # still writing after it
    finally:
        stop.set()
        thread.join(timeout=30)

    restored = loopback(target, "backup", "restore", str(tmp_path / "live.tar.gz"))
    assert restored.exit_code == 0, restored.output
    engine = make_engine(target.resolved_database_url, pool_size=1)
    try:
        with Session(engine) as session:
            events = session.scalar(select(func.count()).where(AuditEvent.action == PAIRED))
            secrets = session.scalar(select(func.count()).where(Secret.purpose == PAIRED))
    finally:
        engine.dispose()
    assert events == secrets
    assert events is not None
    assert 5 <= events < done[0]


PAIRED = "test.paired"


def test_an_older_schema_is_brought_to_the_newest_and_a_newer_one_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    if _sqlite(settings):
        Path(str(make_url(settings.resolved_database_url).database)).parent.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url, "0015")
    archive = tmp_path / "older.tar.gz"
    assert backed_up(settings, archive)["manifest"]["schema_revision"] == "0015"  # type: ignore[index]

    newer = rewritten(
        archive,
        tmp_path / "newer.tar.gz",
        "manifest.json",
        lambda c: json.dumps({**json.loads(c), "schema_revision": "9999"}).encode(),
    )

    with contextmanager(empty_installation)(settings, tmp_path / "into") as target:
        refused = loopback(target, "backup", "restore", str(newer))
        assert refused.exit_code == 1
        assert "revision 9999, which this Loopback does not know" in refused.output

        restored = loopback(target, "backup", "restore", str(archive))
        assert restored.exit_code == 0, restored.output
        _, findings, _ = doctor(target, "--no-providers")
        assert findings["database"]["status"] == "ok", findings
        assert "(newest)" in findings["database"]["detail"]
