"""A newcomer's first five minutes, over HTTP against a real ``loopback serve``."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Databases, s3_client_for, unique_bucket_name, wait_for
from tests.e2e.conftest import ServeProcess, processes_mentioning

log = logging.getLogger(__name__)


def wait_status(api: httpx.Client, location: str, *statuses: str) -> dict[str, Any]:
    def current() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(location).json()
        return body if body["status"] in statuses else None

    result: dict[str, Any] = wait_for(current, timeout=30)
    return result


def test_a_user_creates_a_bucket_uses_it_and_deletes_it(
    databases: Databases, tmp_path: Path, serve_factory: list[ServeProcess]
) -> None:
    serve = ServeProcess(tmp_path / "data", databases)
    serve_factory.append(serve)
    serve.start()

    token_file = serve.data_dir / "bootstrap-token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text().strip()
    assert serve.output().count(token) == 1  # once, in the export line: each copy in a log is a leak
    assert f"export LOOPBACK_TOKEN={token}" in serve.output()

    api = httpx.Client(base_url=serve.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert httpx.get(f"{serve.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{serve.url}/readyz").json()
    assert ready["checks"] == {"database": "ok", "queue": "ok", "secrets": "ok", "storage": "ok"}

    regions = api.get("/v3/regions").json()["regions"]
    assert [(r["provider"], r["family"], r["code"]) for r in regions] == [("local", "s3", "local-1")]
    endpoint = regions[0]["endpoint"]

    buckets = "/v3/organizations/demo/projects/default/buckets"
    name = unique_bucket_name("photos")
    created = api.post(buckets, json={"name": name, "provider": "local", "region": "local-1"})
    assert created.status_code == 202, created.text
    assert created.json()["status"] == "pending"
    location = created.headers["location"]
    bucket = wait_status(api, location, "ready", "failed")
    assert bucket["status"] == "ready", bucket
    assert bucket["endpoint"] == endpoint

    issued = api.post(f"{location}/credentials")
    assert issued.status_code == 201, issued.text
    credential = issued.json()
    assert credential["secret_access_key"]
    listed = api.get(f"{location}/credentials").json()["credentials"]
    assert [c["access_key_id"] for c in listed] == [credential["access_key_id"]]
    assert "secret_access_key" not in listed[0]
    assert credential["secret_access_key"] not in api.get(f"{location}/credentials").text

    s3 = s3_client_for(credential)
    s3.put_object(Bucket=name, Key="cat.jpg", Body=b"meow" * 100)
    s3.put_object(Bucket=name, Key="dog.jpg", Body=b"woof" * 50)
    assert s3.get_object(Bucket=name, Key="cat.jpg")["Body"].read() == b"meow" * 100
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]]
    assert keys == ["cat.jpg", "dog.jpg"]

    other_name = unique_bucket_name("other")
    other = api.post(buckets, json={"name": other_name, "provider": "local", "region": "local-1"})
    assert wait_status(api, other.headers["location"], "ready", "failed")["status"] == "ready"
    for denied in (
        lambda: s3.put_object(Bucket=other_name, Key="x", Body=b"x"),
        lambda: s3.list_objects_v2(Bucket=other_name),
        lambda: s3.get_object(Bucket=other_name, Key="x"),
    ):
        with pytest.raises(ClientError) as refused:
            denied()
        assert refused.value.response["Error"]["Code"] in {"AccessDenied", "403"}

    assert api.post(f"{location}/usage/refresh").status_code == 202
    synced = wait_for(lambda: (b := api.get(location).json())["usage"]["last_synced_at"] and b)
    assert synced["usage"]["object_count"] == 2
    assert synced["usage"]["bytes"] == 600

    refused_delete = api.delete(location)
    assert refused_delete.status_code == 409
    assert "holds 2 objects" in refused_delete.json()["detail"]
    s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "cat.jpg"}, {"Key": "dog.jpg"}]})
    deleting = api.delete(location)
    assert deleting.status_code == 202
    assert deleting.json()["status"] == "deleting"
    assert wait_status(api, location, "deleted", "failed")["status"] == "deleted"
    with pytest.raises(ClientError):  # the bucket is gone, and the key with it
        s3.list_objects_v2(Bucket=name)
    assert api.get(f"{location}/credentials").json()["credentials"][0]["status"] == "revoked"

    # The secret never reached a log line, and the database holds it only encrypted.
    secret = credential["secret_access_key"]
    assert secret not in serve.output()
    if databases.database_url.startswith("sqlite"):
        assert secret.encode() not in (serve.data_dir / "loopback.db").read_bytes()
        assert token.encode() not in (serve.data_dir / "loopback.db").read_bytes()

    # A clean stop on SIGTERM: exit 0 within stop()'s wait (it fails the test when serve hangs), and
    # nothing left running. How long it took is logged, not asserted: speed is benchmarks/' to measure.
    seconds = serve.stop(signal.SIGTERM)
    log.info("serve stopped on SIGTERM in %.1f s", seconds)
    assert serve.process is not None
    assert serve.process.returncode == 0
    assert processes_mentioning(str(serve.data_dir)) == []


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_a_restart_keeps_every_record_and_creates_nothing_twice(
    tmp_path: Path, serve_factory: list[ServeProcess]
) -> None:
    first = ServeProcess(tmp_path / "data", None)
    serve_factory.append(first)
    first.start()
    token = (first.data_dir / "bootstrap-token").read_text().strip()
    api = httpx.Client(base_url=first.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    name = unique_bucket_name("keep")
    created = api.post(
        "/v3/organizations/demo/projects/default/buckets",
        json={"name": name, "provider": "local", "region": "local-1"},
    )
    bucket = wait_status(api, created.headers["location"], "ready", "failed")
    assert bucket["status"] == "ready"
    db = first.data_dir / "loopback.db"
    counts = {
        t: _count(db, t) for t in ("users", "organizations", "projects", "api_tokens", "providers", "regions")
    }
    assert counts == {
        "users": 1,
        "organizations": 1,
        "projects": 1,
        "api_tokens": 1,
        "providers": 1,
        "regions": 1,
    }
    log.info("serve stopped on Ctrl-C in %.1f s", first.stop(signal.SIGINT))
    assert first.process is not None
    assert first.process.returncode == 0
    assert processes_mentioning(str(first.data_dir)) == []

    second = ServeProcess(first.data_dir, None)
    # A restart on the port the user asked for (as `make serve` does with 8080).
    second.port, second.url = first.port, first.url
    second.env = {**first.env, "LOOPBACK_PORT": str(first.port)}
    serve_factory.append(second)
    second.start()
    assert token not in second.output().split("Loopback object storage is running.")[-1]
    assert {t: _count(db, t) for t in counts} == counts
    after = api.get(created.headers["location"]).json()
    assert after["status"] == "ready"
    assert after["endpoint"] == bucket["endpoint"]  # the storage kept its S3 port
    second.stop()


def test_two_instances_run_side_by_side(tmp_path: Path, serve_factory: list[ServeProcess]) -> None:
    one, two = ServeProcess(tmp_path / "one", None), ServeProcess(tmp_path / "two", None)
    serve_factory.extend([one, two])
    one.start()
    two.start()
    endpoints = set()
    for serve in (one, two):
        token = (serve.data_dir / "bootstrap-token").read_text().strip()
        regions = httpx.get(f"{serve.url}/v3/regions", headers={"Authorization": f"Bearer {token}"}).json()
        endpoints.add(regions["regions"][0]["endpoint"])
    assert len(endpoints) == 2
    for serve in (one, two):
        log.info("serve stopped in %.1f s", serve.stop())
        assert serve.process is not None
        assert serve.process.returncode == 0


def test_a_port_in_use_is_refused_at_once_with_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {**os.environ, "LOOPBACK_DATA_DIR": str(tmp_path / "data"), "LOOPBACK_PORT": str(port)}
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "loopback", "serve"], env=env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "LOOPBACK_PORT" in done.stderr
    log.info("port in use refused in %.1f s", time.monotonic() - started)
    # At once: before SeaweedFS, the database or anything else started, none of which has even its
    # data directory yet (what "at once" means, rather than a time this machine's load decides).
    assert not (tmp_path / "data").exists()
    assert "SeaweedFS" not in done.stdout + done.stderr
    assert processes_mentioning(str(tmp_path / "data")) == []
