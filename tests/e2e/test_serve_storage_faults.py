"""``loopback serve`` keeps its embedded SeaweedFS alive and its data directory private.

A storage process killed with SIGKILL is reaped, logged and started again on the same ports,
``/readyz`` says ``storage`` is failing meanwhile, and what was written before is still there.
After a bucket and a key exist, nothing under the data directory is readable by group or others.
"""

from __future__ import annotations

import os
import signal
import stat
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Databases, s3_client_for, unique_bucket_name, wait_for
from tests.e2e.conftest import ServeProcess, processes_mentioning

BUCKETS = "/v3/organizations/demo/projects/default/buckets"


def api_of(serve: ServeProcess) -> httpx.Client:
    token = (serve.data_dir / "bootstrap-token").read_text().strip()
    return httpx.Client(base_url=serve.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def ready_bucket_with_key(api: httpx.Client, prefix: str) -> tuple[str, dict[str, Any]]:
    """A ready bucket on provider ``local`` and a key for it, as a tenant gets them."""
    name = unique_bucket_name(prefix)
    created = api.post(BUCKETS, json={"name": name, "provider": "local", "region": "local-1"})
    assert created.status_code == 202, created.text
    location = created.headers["location"]
    bucket = wait_for(lambda: (b := api.get(location).json())["status"] in ("ready", "failed") and b)
    assert bucket["status"] == "ready", bucket
    issued = api.post(f"{location}/credentials")
    assert issued.status_code == 201, issued.text
    return name, issued.json()


def weed_server_pid(data_dir: Path) -> int:
    """The ``weed server`` (master, volume and filer) that this serve started."""
    found = []
    for pid in processes_mentioning(str(data_dir)):
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
        if argv[0].endswith(b"weed") and b"server" in argv:
            found.append(pid)
    assert len(found) == 1, found
    return found[0]


def reaped(pid: int) -> bool:
    """Gone from /proc, not left ``<defunct>`` (state Z) by a parent that never waited for it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return True


def test_a_storage_killed_with_sigkill_is_restarted_and_readyz_says_so_meanwhile(
    databases: Databases, tmp_path: Path, serve_factory: list[ServeProcess]
) -> None:
    serve = ServeProcess(tmp_path / "data", databases)
    serve_factory.append(serve)
    serve.start()
    api = api_of(serve)
    name, credential = ready_bucket_with_key(api, "kill")
    tenant = s3_client_for(credential)
    wait_for(lambda: tenant.put_object(Bucket=name, Key="before.txt", Body=b"kept through the kill"))

    killed = weed_server_pid(serve.data_dir)
    os.kill(killed, signal.SIGKILL)
    started = time.monotonic()

    def storage_failing() -> dict[str, Any] | None:
        answer = httpx.get(f"{serve.url}/readyz", timeout=5)
        body: dict[str, Any] = answer.json()
        return body if answer.status_code == 503 else None

    down = wait_for(storage_failing, timeout=5, interval=0.05)
    assert down["checks"]["storage"].startswith("failing: "), down
    assert down["checks"]["database"] == "ok"
    wait_for(lambda: httpx.get(f"{serve.url}/readyz", timeout=5).status_code == 200, timeout=15)
    assert time.monotonic() - started < 15
    assert reaped(killed)
    assert weed_server_pid(serve.data_dir) != killed
    assert f"SeaweedFS server (pid {killed}) was killed by SIGKILL" in serve.output()
    wait_for(lambda: "SeaweedFS answers again" in serve.output(), timeout=5)  # logged just after

    got = tenant.get_object(Bucket=name, Key="before.txt")["Body"].read()
    assert got == b"kept through the kill"  # the same key, endpoint and data
    again, _ = ready_bucket_with_key(api, "after")  # and the worker provisions on it again
    assert again != name

    serve.stop(signal.SIGTERM)
    assert processes_mentioning(str(serve.data_dir)) == []


def readable_by_others(root: Path) -> list[str]:
    """What under ``root`` (``root`` too) has a group or other permission bit; links are skipped."""
    found = []
    for directory, names, files in os.walk(root):
        for entry in [directory, *(os.path.join(directory, name) for name in [*names, *files])]:
            mode = os.lstat(entry).st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                found.append(f"{stat.filemode(mode)} {os.path.relpath(entry, root)}")
    return found


def test_nothing_under_the_data_dir_is_readable_by_group_or_others(
    tmp_path: Path, serve_factory: list[ServeProcess]
) -> None:
    serve = ServeProcess(tmp_path / "data", None)  # SQLite database and queue in the data directory
    serve_factory.append(serve)
    serve.start()
    _, credential = ready_bucket_with_key(ready := api_of(serve), "private")
    ready.close()
    secret = credential["secret_access_key"].encode()

    def holders() -> list[Path]:
        return [p for p in serve.data_dir.rglob("*") if p.is_file() and secret in p.read_bytes()]

    kept = wait_for(holders, timeout=10)  # SeaweedFS's filer store keeps it as issued
    assert all(path.is_relative_to(serve.data_dir / "seaweedfs") for path in kept), kept
    for expected in ("loopback.db", "queue.db", "secret.key", "bootstrap-token", "seaweedfs/s3.json"):
        assert (serve.data_dir / expected).exists(), expected
    wait_for(lambda: readable_by_others(serve.data_dir) == [], timeout=10)
    assert stat.S_IMODE(serve.data_dir.stat().st_mode) == 0o700
    serve.stop(signal.SIGTERM)
    assert readable_by_others(serve.data_dir) == []  # what the stop wrote too
