"""The API's figures of issue 14, each beside its baseline measured in the same run.

- keep-alive ``/healthz`` p50: ``loopback serve`` against a bare FastAPI app (``bare_app.py``) on
  the same uvicorn settings;
- GET one bucket at 16 connections, req/s, on an API replica (a second ``serve`` with no worker and
  no storage, on the first one's database and queue): against the bare app's ``def`` endpoint;
- RSS of that replica under that load: against the bare app's;
- create -> ready p50 through the API minus raw boto3 CreateBucket p50 on the same SeaweedFS,
  embedded (SQLite, in-process worker) and on PostgreSQL + Redis when ``--postgres`` names one;
- issuing a key through the API: against raw IAM CreateUser + PutUserPolicy + CreateAccessKey.

Runs real ``loopback serve`` processes in temporary data directories on 127.0.0.1; every loop is
bounded. Usage: .venv/bin/python benchmarks/api.py [--buckets 30] [--seconds 5]
  [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test --redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
from load import sequential, throughput
from report import Figure, p50, print_figures, timed

from loopback.kit.ports import free_ports

HERE = Path(__file__).resolve().parent
BUCKETS = "/v3/organizations/demo/projects/default/buckets"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_ready(url: str, log: Path, process: subprocess.Popen[bytes], path: str = "/readyz") -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited with {process.returncode}; see {log}")
        try:
            if httpx.get(url + path, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not become ready; see {log}")


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as output:
        child = subprocess.Popen(command, env=env, stdout=output, stderr=output, stdin=subprocess.DEVNULL)
    try:
        yield child
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()


@dataclass
class Serve:
    """One running ``loopback serve``: its API, its operator token and its SeaweedFS as the operator."""

    pid: int
    port: int
    data_dir: Path
    api: httpx.Client
    s3: Any
    iam: Any


@contextmanager
def serve(extra_env: dict[str, str]) -> Iterator[Serve]:
    data_dir = Path(tempfile.mkdtemp(prefix="loopback-bench-"))
    port = free_ports(1)[0]
    env = {**os.environ, "LOOPBACK_DATA_DIR": str(data_dir), "LOOPBACK_PORT": str(port), **extra_env}
    log = data_dir.parent / f"{data_dir.name}.log"
    with process([sys.executable, "-m", "loopback", "serve"], env, log) as child:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, log, child)
        token = (data_dir / "bootstrap-token").read_text().strip()
        identity = json.loads((data_dir / "seaweedfs" / "operator-identity.json").read_text())
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
            endpoint = api.get("/v3/regions").json()["regions"][0]["endpoint"]
            keys = {
                "endpoint_url": endpoint,
                "aws_access_key_id": identity["access_key_id"],
                "aws_secret_access_key": identity["secret_access_key"],
                "region_name": "local-1",
            }
            s3, iam = boto3.client("s3", **keys), boto3.client("iam", **keys)
            yield Serve(child.pid, port, data_dir, api, s3, iam)


@contextmanager
def api_replica(of: Serve) -> Iterator[tuple[int, int]]:
    """A second ``serve`` as an API replica of ``of`` (README: At scale): its database, queue and key,
    no worker and no storage of its own. Answers its pid and port."""
    data_dir = Path(tempfile.mkdtemp(prefix="loopback-replica-"))
    port = free_ports(1)[0]
    env = {
        **os.environ,
        "LOOPBACK_DATA_DIR": str(data_dir),
        "LOOPBACK_PORT": str(port),
        "LOOPBACK_DATABASE_URL": f"sqlite:///{of.data_dir / 'loopback.db'}",
        "LOOPBACK_QUEUE_URL": f"sqlite:///{of.data_dir / 'queue.db'}",
        "LOOPBACK_SECRET_KEY": (of.data_dir / "secret.key").read_text().strip(),
        "LOOPBACK_WORKERS": "0",
        "LOOPBACK_EMBEDDED_STORAGE": "false",
    }
    log = data_dir.parent / f"{data_dir.name}.log"
    with process([sys.executable, "-m", "loopback", "serve"], env, log) as child:
        wait_ready(f"http://127.0.0.1:{port}", log, child)
        yield child.pid, port


def create_to_ready(side: Serve, count: int) -> tuple[list[float], list[float], list[str]]:
    """Raw CreateBucket and API create -> ready, interleaved one by one so both meet the same noise."""
    raw: list[float] = []
    through_api: list[float] = []
    locations: list[str] = []

    def create() -> None:
        answer = side.api.post(
            BUCKETS, json={"name": f"api-{secrets.token_hex(6)}", "provider": "local", "region": "local-1"}
        )
        answer.raise_for_status()
        location = answer.headers["location"]
        for _ in range(20_000):  # bounded: polls until ready, at most ~30 s
            if side.api.get(location).json()["status"] in {"ready", "failed"}:
                locations.append(location)
                return
        raise RuntimeError("bucket did not become ready")

    for _ in range(count):
        raw.append(timed(lambda: side.s3.create_bucket(Bucket=f"raw-{secrets.token_hex(6)}")))
        through_api.append(timed(create))
    return raw, through_api, locations


def issue_keys(side: Serve, bucket_location: str, count: int) -> tuple[list[float], list[float]]:
    """Raw IAM's three calls for a key and the API's issue, interleaved."""
    bucket_name = side.api.get(bucket_location).json()["name"]
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
                    "Resource": [f"arn:aws:s3:::{bucket_name}", f"arn:aws:s3:::{bucket_name}/*"],
                }
            ],
        }
    )

    def raw_key() -> None:
        user = f"bench-{secrets.token_hex(6)}"
        side.iam.create_user(UserName=user)
        side.iam.put_user_policy(UserName=user, PolicyName="bench", PolicyDocument=policy)
        side.iam.create_access_key(UserName=user)

    def api_key() -> None:
        side.api.post(f"{bucket_location}/credentials").raise_for_status()

    raw: list[float] = []
    through_api: list[float] = []
    for _ in range(count):
        raw.append(timed(raw_key))
        through_api.append(timed(api_key))
    return raw, through_api


def best_of(rounds: int, measure: Callable[[], float]) -> float:
    return max(measure() for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--buckets", type=int, default=30, help="creates (and key issues) per side")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load run")
    parser.add_argument("--reads", type=int, default=300, help="sequential keep-alive requests per side")
    parser.add_argument(
        "--postgres", help="a PostgreSQL URL: also measure create -> ready there (a new schema)"
    )
    parser.add_argument("--redis", help="a Redis URL for the queue with --postgres")
    args = parser.parse_args()

    figures: list[Figure] = []
    bare_port = free_ports(1)[0]
    bare_log = Path(tempfile.mkdtemp(prefix="loopback-bare-")) / "bare.log"
    bare_env = {**os.environ}
    with (
        process([sys.executable, str(HERE / "bare_app.py"), str(bare_port)], bare_env, bare_log) as bare,
        serve({}) as embedded,
    ):
        wait_ready(f"http://127.0.0.1:{bare_port}", bare_log, bare, "/healthz")
        raw, api_times, locations = create_to_ready(embedded, args.buckets)
        figures.append(
            Figure(
                "create -> ready p50 minus raw CreateBucket p50, embedded",
                p50(api_times) * 1000,
                p50(raw) * 1000,
                "ms",
                50,
                "difference<=",
            )
        )
        raw_keys, api_keys = issue_keys(embedded, locations[0], args.buckets)
        figures.append(
            Figure(
                "issue a key / raw IAM CreateUser+PutUserPolicy+CreateAccessKey",
                p50(api_keys) * 1000,
                p50(raw_keys) * 1000,
                "ms",
                1.3,
            )
        )

        auth = {"Authorization": embedded.api.headers["authorization"]}
        ours = sequential(embedded.port, "/healthz", args.reads)
        theirs = sequential(bare_port, "/healthz", args.reads)
        figures.append(
            Figure("keep-alive /healthz p50 / bare app's", p50(ours) * 1000, p50(theirs) * 1000, "ms", 1.5)
        )

        bucket_path = locations[0]
        with api_replica(embedded) as (replica_pid, replica_port):
            api_rate = best_of(2, lambda: throughput(replica_port, bucket_path, auth, 16, args.seconds)[0])
            bare_rate = best_of(2, lambda: throughput(bare_port, "/bucket", {}, 16, args.seconds)[0])
            replica_rss, bare_rss = rss_mib(replica_pid), rss_mib(bare.pid)
        figures.append(
            Figure(
                "GET one bucket req/s, 16 connections / bare def endpoint",
                api_rate,
                bare_rate,
                "req/s",
                0.5,
                "ratio>=",
            )
        )
        figures.append(
            Figure("RSS after that load: API replica / bare FastAPI", replica_rss, bare_rss, "MiB", 2.0)
        )
        embedded_rss = rss_mib(embedded.pid)

    if args.postgres:
        from sqlalchemy import create_engine, make_url, text

        schema = f"lb_bench_{secrets.token_hex(4)}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(args.postgres).update_query_dict({"options": f"-csearch_path={schema}"})
        env = {
            "LOOPBACK_DATABASE_URL": url.render_as_string(hide_password=False),
            "LOOPBACK_QUEUE_NAME": schema,
        }
        if args.redis:
            env["LOOPBACK_QUEUE_URL"] = args.redis
        try:
            with serve(env) as scaled:
                raw, api_times, _ = create_to_ready(scaled, args.buckets)
                figures.append(
                    Figure(
                        "create -> ready p50 minus raw CreateBucket p50, PostgreSQL+Redis",
                        p50(api_times) * 1000,
                        p50(raw) * 1000,
                        "ms",
                        20,
                        "difference<=",
                    )
                )
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

    print_figures(
        f"loopback API benchmark on 127.0.0.1, {os.cpu_count()} cores, {args.buckets} buckets", figures
    )
    print(
        f"  (the embedded serve, its API with its worker and SeaweedFS's supervisor: {embedded_rss:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
