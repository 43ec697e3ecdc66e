"""Measure the control plane against its baselines on one machine, and print the figures.

- create -> ready through the API (record, enqueue, worker, boto3) vs raw boto3 CreateBucket
  on the same embedded SeaweedFS;
- an authenticated bucket read (token lookup, tenant scope, one query) vs bare /healthz on the
  same server;
- resident memory of the API process and of SeaweedFS.

Runs a real `loopback serve` in a temporary data directory on 127.0.0.1; every loop is bounded.
Usage: uv run python benchmarks/bucket_api.py [--buckets 30] [--reads 500]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import httpx

from loopback.kit.ports import free_ports


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   n={len(ordered)}"


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--buckets", type=int, default=30)
    parser.add_argument("--reads", type=int, default=500)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="loopback-bench-"))
    port = free_ports(1)[0]
    env = {**os.environ, "LOOPBACK_DATA_DIR": str(data_dir), "LOOPBACK_PORT": str(port)}
    log = open(data_dir / "serve.log", "wb")
    serve = subprocess.Popen([sys.executable, "-m", "loopback", "serve"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit(f"serve did not become ready; see {data_dir / 'serve.log'}")

        token = (data_dir / "bootstrap-token").read_text().strip()
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        endpoint = api.get("/v3/regions").json()["regions"][0]["endpoint"]
        identity = json.loads((data_dir / "seaweedfs" / "operator-identity.json").read_text())
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=identity["access_key_id"],
            aws_secret_access_key=identity["secret_access_key"],
            region_name="local-1",
        )
        buckets = "/v3/organizations/demo/projects/default/buckets"

        raw = [
            timed(lambda: s3.create_bucket(Bucket=f"raw-{secrets.token_hex(6)}")) for _ in range(args.buckets)
        ]

        def through_api() -> str:
            created = api.post(
                buckets,
                json={"name": f"api-{secrets.token_hex(6)}", "provider": "local", "region": "local-1"},
            )
            location = created.headers["location"]
            for _ in range(3000):  # bounded: at most 30 s of 10 ms polls
                if api.get(location).json()["status"] in {"ready", "failed"}:
                    return location
                time.sleep(0.01)
            raise RuntimeError("bucket did not become ready in 30 s")

        locations: list[str] = []
        api_times = [timed(lambda: locations.append(through_api())) for _ in range(args.buckets)]

        bare = [timed(lambda: httpx.get(f"{url}/healthz")) for _ in range(args.reads)]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as keepalive:
            bare_keepalive = [timed(lambda: keepalive.get("/healthz")) for _ in range(args.reads)]
            reads = [timed(lambda: keepalive.get(locations[0])) for _ in range(args.reads)]

        print(f"loopback benchmark, {args.buckets} buckets, {args.reads} reads, on 127.0.0.1")
        print(f"  create bucket  raw boto3 CreateBucket     {percentiles(raw)}")
        print(f"  create bucket  API create -> ready        {percentiles(api_times)}")
        print(f"  read           bare /healthz (new conn)   {percentiles(bare)}")
        print(f"  read           bare /healthz (keep-alive) {percentiles(bare_keepalive)}")
        print(f"  read           GET bucket (keep-alive)    {percentiles(reads)}")
        overhead = statistics.median(api_times) - statistics.median(raw)
        print(f"  create overhead over raw boto3 (median): {overhead * 1000:.1f} ms")
        print(f"  memory  loopback serve RSS {rss_mib(serve.pid):.0f} MiB", end="")
        for child in children_of(serve.pid):
            print(f"; weed pid {child} RSS {rss_mib(child):.0f} MiB", end="")
        print()
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
        log.close()


if __name__ == "__main__":
    main()
