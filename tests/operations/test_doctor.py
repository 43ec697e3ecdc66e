"""``loopback doctor`` against real installations: each part healthy, then broken one at a time."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select

from loopback.automation.backlog import Backlog
from loopback.kit.secrets import key_file
from loopback.kit.settings import Settings
from loopback.migrations import upgrade
from loopback.operations import secret_keys
from loopback.operations.checks import check_data_dir, clock_finding, queue_finding, sqlite_path
from loopback.operations.findings import Status
from loopback.providers.models import Provider
from loopback.providers.schemas import ProviderCreate, RegionIn
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from tests.operations.cli import doctor, loopback


def test_a_healthy_installation_is_ok_in_every_check_and_the_round_trip_leaves_nothing(
    runtime: Runtime, operator_s3: Any
) -> None:
    before = {b["Name"] for b in operator_s3.list_buckets()["Buckets"]}
    code, findings, _ = doctor(runtime.settings)
    assert code == 0, findings
    assert list(findings) == ["database", "queue", "secrets", "provider local", "clock", "data directory"]
    assert {f["status"] for f in findings.values()} == {"ok"}
    assert "every sealed value opens" in findings["secrets"]["detail"]
    assert {b["Name"] for b in operator_s3.list_buckets()["Buckets"]} == before  # the scratch bucket is gone
    with runtime.db.session() as session:
        local = session.scalars(select(Provider).where(Provider.name == "local")).one()
        assert local.last_check_at is not None
        assert local.last_check_error is None

    waiting = int(findings["queue"]["detail"].split()[0])
    runtime.automation.enqueue("bucket.reconcile", "bkt_waiting")  # no worker runs here to take it
    code, findings, _ = doctor(runtime.settings, "--no-providers")
    assert code == 0
    assert int(findings["queue"]["detail"].split()[0]) > waiting
    assert "provider local" not in findings

    table = loopback(runtime.settings, "doctor", "--no-providers")
    assert table.exit_code == 0, table.output
    assert "│ data directory │ ok" in table.stdout


def test_another_secret_key_fails_the_secrets_check_without_showing_a_secret(
    runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    own = key_file(runtime.settings).read_bytes()
    other = Fernet.generate_key()
    key_file(runtime.settings).write_bytes(other)
    code, findings, result = doctor(runtime.settings)
    assert code == 2
    assert findings["secrets"]["status"] == "failing"
    assert "sealed values do not open with the configured keys (secret sec_" in findings["secrets"]["detail"]
    assert "secret.key" in findings["secrets"]["fix"]
    assert findings["provider local"]["status"] == "failing"
    for secret in (seaweedfs.identity.secret_access_key, own.decode().strip(), other.decode()):
        assert secret not in result.output


def test_an_enabled_provider_that_cannot_be_reached_fails_with_its_fix(runtime: Runtime) -> None:
    spec = ProviderCreate(
        name="nowhere",
        family="s3",
        access_key_id="AKIA0000",
        secret_access_key=SecretStr("not-a-real-secret"),
        regions=[RegionIn(code="r1", name="Region one", endpoint="http://127.0.0.1:9")],
    )
    with runtime.db.session() as session:
        runtime.providers.create(session, spec)
        session.commit()
    code, findings, result = doctor(runtime.settings)
    assert code == 2
    assert findings["provider local"]["status"] == "ok"
    assert findings["provider nowhere"]["status"] == "failing"
    assert findings["provider nowhere"]["detail"].startswith("r1: create bucket")
    assert "loopback providers show nowhere" in findings["provider nowhere"]["fix"]
    assert "not-a-real-secret" not in result.output


def test_a_data_directory_others_can_read_fails_with_the_chmod_that_fixes_it(runtime: Runtime) -> None:
    data = runtime.settings.data_dir
    os.chmod(data, 0o755)
    code, findings, _ = doctor(runtime.settings, "--no-providers")
    assert code == 2
    assert findings["data directory"]["status"] == "failing"
    assert findings["data directory"]["fix"].startswith(f"chmod 700 {data.resolve()}")

    os.chmod(data, 0o700)
    os.chmod(key_file(runtime.settings), 0o644)
    code, findings, _ = doctor(runtime.settings, "--no-providers")
    assert code == 2
    assert findings["data directory"]["fix"] == f"chmod 600 {key_file(runtime.settings)}"


def test_a_database_not_there_then_behind_the_newest_schema(settings: Settings) -> None:
    database = sqlite_path(settings.resolved_database_url)
    code, findings, _ = doctor(settings)
    if database is not None:  # SQLite: no file, and the doctor made none
        assert code == 2
        assert findings["database"]["status"] == "failing"
        assert "LOOPBACK_DATA_DIR" in findings["database"]["fix"]
        assert not database.exists()
        database.parent.mkdir(parents=True, exist_ok=True)
    else:  # PostgreSQL: an empty schema, which the first `serve` migrates
        assert code == 1
        assert findings["database"]["status"] == "warning"
        assert "loopback migrate" in findings["database"]["fix"]
    assert findings["data directory"]["status"] == "warning"
    assert findings["secrets"]["detail"] == "not checked: the database has no tables to read"

    upgrade(settings.resolved_database_url, "0015")
    code, findings, _ = doctor(settings, "--no-providers")
    assert findings["database"]["status"] == "warning"
    assert "behind" in findings["database"]["detail"]
    assert findings["database"]["fix"].startswith("run `loopback migrate`")


def test_the_queue_warns_when_its_oldest_task_has_waited_too_long() -> None:
    assert queue_finding(Backlog(3, 12.0)).status is Status.OK
    assert queue_finding(Backlog(3, None)).detail == "3 tasks waiting"
    late = queue_finding(Backlog(40, 3600.0))
    assert late.status is Status.WARNING
    assert late.detail == "40 tasks waiting, the oldest waiting 3600 s"
    assert "loopback worker" in (late.fix or "")


def test_clock_skew_warns_then_fails() -> None:
    assert clock_finding(0.3).status is Status.OK
    assert clock_finding(-4).status is Status.WARNING
    assert "behind this machine's" in clock_finding(-4).detail
    failed = clock_finding(45)
    assert failed.status is Status.FAILING
    assert "NTP" in (failed.fix or "")


def test_a_data_directory_nothing_lives_in_need_not_exist(tmp_path: Path) -> None:
    elsewhere = Settings(
        data_dir=tmp_path / "none",
        database_url="postgresql+psycopg://loopback@db.invalid/loopback",
        queue_url="redis://queue.invalid:6379/0",
        secret_key=SecretStr(Fernet.generate_key().decode()),
    )
    assert check_data_dir(elsewhere).status is Status.OK
    assert check_data_dir(Settings(data_dir=tmp_path / "none")).status is Status.WARNING


def test_the_secrets_check_reads_the_values_in_batches(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    with runtime.db.session() as session:
        for n in range(7):
            runtime.secrets.put(session, "test", f"value {n}")
    monkeypatch.setattr(secret_keys, "BATCH", 3)
    told: list[tuple[int, int]] = []
    finding = secret_keys.check_secrets(runtime.settings, lambda done, total: told.append((done, total)))
    assert finding.status is Status.OK
    total = told[-1][1]
    assert total >= 7
    assert told[-1][0] == total  # every value was read, 3 at most at a time:
    assert all(later - earlier <= 3 for (earlier, _), (later, _) in itertools.pairwise(told))
