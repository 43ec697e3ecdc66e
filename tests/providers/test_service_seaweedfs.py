"""The embedded SeaweedFS: starting again on fresh ports when one was taken between pick and listen,
started again when it dies, private on disk, and what its own per-bucket figures count."""

from __future__ import annotations

import logging
import os
import signal
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from loopback.providers import seaweedfs
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from tests.conftest import unique_bucket_name, wait_for


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port somebody else listens on, as a parallel test worker might right after our pick."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_a_port_taken_after_the_pick_makes_it_start_again_on_others(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_free_ports = seaweedfs.free_ports
    picks: list[list[int]] = []

    def first_pick_loses_a_race(count: int) -> list[int]:
        ports = real_free_ports(count)
        if not picks:
            ports[6] = taken_port  # the S3 gRPC port: SeaweedFS s3 exits with "address already in use"
        picks.append(ports)
        return ports

    monkeypatch.setattr(seaweedfs, "free_ports", first_pick_loses_a_race)
    with EmbeddedSeaweedFS(tmp_path / "storage") as storage:
        storage.check()
    # at least one more pick; under a loaded machine another test may take a second port meanwhile
    assert len(picks) >= 2
    assert taken_port not in picks[-1]
    log = (tmp_path / "storage" / "logs" / "s3.out").read_text()
    assert "address already in use" in log


def operator_s3_of(storage: EmbeddedSeaweedFS) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=storage.endpoint,
        aws_access_key_id=storage.identity.access_key_id,
        aws_secret_access_key=storage.identity.secret_access_key,
        region_name="local-1",
    )


def readable_by_others(root: Path) -> list[str]:
    """Every directory or file under ``root`` (``root`` too) with a group or other permission bit.

    Symbolic links are skipped: their mode means nothing (glog's ``weed.INFO`` points into logs/).
    """
    found = []
    for directory, names, files in os.walk(root):
        for entry in [directory, *(os.path.join(directory, name) for name in [*names, *files])]:
            mode = os.lstat(entry).st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                found.append(f"{stat.filemode(mode)} {os.path.relpath(entry, root)}")
    return found


def is_zombie_or_gone(pid: int) -> bool:
    """Whether ``pid`` is reaped (gone from /proc) rather than left ``<defunct>`` by its parent."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state != "Z"


@pytest.mark.parametrize("victim", ["server", "s3"])
def test_a_killed_storage_process_is_reaped_logged_and_started_again_with_its_data(
    tmp_path: Path, victim: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="loopback.providers.seaweedfs")
    with EmbeddedSeaweedFS(tmp_path / "storage") as storage:
        storage.supervise(interval=0.2)
        s3 = operator_s3_of(storage)
        s3.create_bucket(Bucket="kept-bucket")
        s3.put_object(Bucket="kept-bucket", Key="before.txt", Body=b"written before the kill")
        endpoint, killed = storage.endpoint, storage._processes[victim].pid

        os.kill(killed, signal.SIGKILL)
        started = time.monotonic()

        def failing() -> bool:
            try:
                storage.check()
            except Exception:
                return True
            return False

        wait_for(failing, timeout=5, interval=0.05)  # the check probes: it sees the storage down

        wait_for(lambda: storage.restarts == 1, timeout=15, interval=0.1)
        storage.check()
        assert time.monotonic() - started < 15
        assert is_zombie_or_gone(killed)
        assert storage._processes[victim].pid != killed
        assert storage.endpoint == endpoint  # the same ports: provider `local` keeps its endpoint
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="kept-bucket")["Contents"]] == ["before.txt"]
        body = s3.get_object(Bucket="kept-bucket", Key="before.txt")["Body"].read()
        assert body == b"written before the kill"
    logged = caplog.text
    assert (
        f"SeaweedFS {victim} (pid {killed}) was killed by SIGKILL; starting it again on the same ports"
        in logged
    )
    assert "SeaweedFS answers again" in logged


def test_what_seaweedfs_writes_is_its_owners_only(tmp_path: Path) -> None:
    """The filer store keeps every issued key (revoked ones too): it and everything beside it is
    0600 in 0700 directories. Each volume's ``.vif`` SeaweedFS chmods 0644 itself; the
    supervisor takes that back (the next test), and the 0700 directory above keeps others out."""
    root = tmp_path / "storage"
    with EmbeddedSeaweedFS(root) as storage:
        s3 = operator_s3_of(storage)
        s3.create_bucket(Bucket="private-bucket")
        s3.put_object(Bucket="private-bucket", Key="k", Body=b"x")
        iam = boto3.client(
            "iam",
            endpoint_url=storage.endpoint,
            aws_access_key_id=storage.identity.access_key_id,
            aws_secret_access_key=storage.identity.secret_access_key,
            region_name="local-1",
        )
        iam.create_user(UserName="tenant-key")
        secret = iam.create_access_key(UserName="tenant-key")["AccessKey"]["SecretAccessKey"]

        def holding_the_secret() -> list[Path]:
            return [
                path for path in root.rglob("*") if path.is_file() and secret.encode() in path.read_bytes()
            ]

        holders = wait_for(holding_the_secret, timeout=10)  # the filer store keeps it as it is
        assert all(path.stat().st_mode & 0o777 == 0o600 for path in holders), holders
        found = [entry for entry in readable_by_others(root) if not entry.endswith(".vif")]
        assert found == []


def test_the_supervisor_takes_back_what_seaweedfs_opens_up(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    with EmbeddedSeaweedFS(root) as storage:
        storage.supervise(interval=0.2)
        s3 = operator_s3_of(storage)
        s3.create_bucket(Bucket="vif-bucket")
        s3.put_object(Bucket="vif-bucket", Key="k", Body=b"x")
        assert list((root / "data").glob("vif-bucket_*.vif"))
        wait_for(lambda: readable_by_others(root) == [], timeout=10)
    assert readable_by_others(root) == []  # a volume closing at the stop rewrites its .vif too


def test_a_data_dir_left_open_by_an_older_start_is_tightened(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    (root / "data" / "filerldb2").mkdir(parents=True, mode=0o755)
    for directory in (root, root / "data", root / "data" / "filerldb2"):
        directory.chmod(0o755)
    (root / "data" / "filerldb2" / "000001.log").write_bytes(b"an issued secret")
    (root / "data" / "filerldb2" / "000001.log").chmod(0o644)
    EmbeddedSeaweedFS(root)
    assert readable_by_others(root) == []


def volumes_of(status: Any) -> Iterator[dict[str, Any]]:
    """Every volume in the master's ``/vol/status`` answer (data centers > racks > servers > volumes)."""
    if isinstance(status, dict):
        if "Collection" in status:
            yield status
            return
        for value in status.values():
            yield from volumes_of(value)
    elif isinstance(status, list):
        for value in status:
            yield from volumes_of(value)


def test_seaweedfs_own_bucket_figures_count_stored_needles_not_what_is_billed(
    seaweedfs: EmbeddedSeaweedFS, operator_s3: Any
) -> None:
    """Why usage is read by listing, not natively, on SeaweedFS: its per-bucket figures are the
    master's volume statistics of the bucket's collection (``/vol/status``; ``weed shell``'s
    ``s3.bucket.list``, its admin UI and the S3 gateway's ``SeaweedFS_s3_bucket_size_bytes`` and
    ``_object_count`` gauges all read them): compressed bytes on disk and stored chunks, deleted
    ones included until a vacuum. A listing says one object of 1 MiB; SeaweedFS says otherwise."""
    name = unique_bucket_name("stats")
    operator_s3.create_bucket(Bucket=name)
    operator_s3.put_object(Bucket=name, Key="compressible", Body=b"a" * 2**20)
    operator_s3.put_object(Bucket=name, Key="deleted", Body=b"b" * 1000)
    operator_s3.delete_object(Bucket=name, Key="deleted")

    def collection() -> tuple[int, int] | None:  # the master hears of writes with the volumes' heartbeats
        status = httpx.get(f"{seaweedfs.master_url}/vol/status", timeout=5).json()
        volumes = [v for v in volumes_of(status["Volumes"]) if v["Collection"] == name]
        files, size = sum(v["FileCount"] for v in volumes), sum(v["Size"] for v in volumes)
        return (files, size) if files >= 2 else None

    files, size = wait_for(collection, timeout=60, interval=0.5)
    listed = operator_s3.list_object_versions(Bucket=name)["Versions"]
    assert [(v["Key"], v["Size"]) for v in listed] == [("compressible", 2**20)]
    assert files == 2  # the deleted object's chunk is still counted
    assert size < 2**20 // 10  # its compressed needles, not the object's size


def test_a_bucket_written_to_takes_one_volume_not_seven(
    seaweedfs: EmbeddedSeaweedFS, operator_s3: Any
) -> None:
    """Every bucket is a collection; at SeaweedFS's default of 7 volumes per collection the volume
    server's ~300 slots ran out after 43 buckets holding data, and writes to the next one failed."""

    def volumes() -> int:
        topology = httpx.get(f"{seaweedfs.master_url}/dir/status", timeout=5).json()["Topology"]
        nodes = [node for dc in topology["DataCenters"] for rack in dc["Racks"] for node in rack["DataNodes"]]
        return sum(node["Volumes"] for node in nodes)

    before = volumes()
    for _ in range(3):
        name = unique_bucket_name("vol")
        operator_s3.create_bucket(Bucket=name)
        operator_s3.put_object(Bucket=name, Key="one", Body=b"x")
    assert volumes() - before == 3
