"""What SeaweedFS's own bucket quota does, on the real embedded SeaweedFS: why Loopback does not give
it a bucket's limits (docs/quotas.md, "SeaweedFS's own quota").

``weed shell``'s ``s3.bucket.quota`` only stores a number on the bucket's filer entry; nothing
refuses a write until ``s3.bucket.quota.enforce -apply`` runs, which compares each bucket's
collection size as the master last heard it from the volume servers (stored needles: compressed)
with its quota and marks the bucket's path read-only in ``filer.conf``. A write then fails as a
server fault (500 ``InternalError``, which S3 clients retry), not as ``AccessDenied``. Should a
later SeaweedFS refuse with a 403 or count what is billed, this test fails, and the native quota is
worth wiring for SeaweedFS too.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from loopback.providers.seaweedfs import EmbeddedSeaweedFS, weed_binary
from tests.conftest import unique_bucket_name, wait_for

log = logging.getLogger(__name__)
MiB = 1024 * 1024


def weed_shell(seaweedfs: EmbeddedSeaweedFS, command: str) -> str:
    ports = seaweedfs._ports
    master = f"-master=127.0.0.1:{ports['master']}.{ports['master_grpc']}"
    filer = f"-filer=127.0.0.1:{ports['filer']}.{ports['filer_grpc']}"
    done = subprocess.run(
        [str(weed_binary()), "shell", master, filer], input=command.encode(), capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode() + done.stderr.decode()  # some commands print to stderr


def counted(seaweedfs: EmbeddedSeaweedFS, bucket: str) -> tuple[int, int]:
    """The bucket's ``size`` and ``logical`` (size less deleted needles) as ``s3.bucket.list`` says."""
    found = re.search(
        rf"^\s*{bucket}\tsize:(\d+)\tlogical:(\d+)", weed_shell(seaweedfs, "s3.bucket.list"), re.M
    )
    assert found is not None
    return int(found[1]), int(found[2])


def refusal(s3: Any, bucket: str) -> tuple[str, int] | None:
    try:
        s3.put_object(Bucket=bucket, Key="probe", Body=b"p")
    except ClientError as error:
        return str(error.response["Error"]["Code"]), int(error.response["ResponseMetadata"]["HTTPStatusCode"])
    s3.delete_object(Bucket=bucket, Key="probe")
    return None


def seconds(step: Callable[[], Any]) -> float:
    started = time.monotonic()
    step()
    return time.monotonic() - started


def test_seaweedfs_quota_refuses_as_a_server_fault_and_only_when_enforce_runs(
    seaweedfs: EmbeddedSeaweedFS, operator_s3: Any, record_property: Callable[[str, object], None]
) -> None:
    bucket = unique_bucket_name("swq")
    operator_s3.create_bucket(Bucket=bucket)
    s3 = operator_s3
    try:
        assert "updated quota" in weed_shell(seaweedfs, f"s3.bucket.quota -name={bucket} -op=set -sizeMB=1")
        for key in ("a", "b", "c"):
            s3.put_object(Bucket=bucket, Key=key, Body=os.urandom(450 * 1024))  # 1.3 MiB, over the quota
        assert refusal(s3, bucket) is None  # a quota alone refuses nothing
        heard = seconds(
            lambda: wait_for(lambda: counted(seaweedfs, bucket)[0] > MiB, timeout=30, interval=0.5)
        )

        enforce = seconds(lambda: weed_shell(seaweedfs, "s3.bucket.quota.enforce -apply"))
        refused = seconds(lambda: wait_for(lambda: refusal(s3, bucket), timeout=15, interval=0.05))
        assert refusal(s3, bucket) == ("InternalError", 500)  # a server fault, not AccessDenied
        assert len(s3.get_object(Bucket=bucket, Key="a")["Body"].read()) == 450 * 1024  # reads go on
        for key in ("a", "b", "c"):
            s3.delete_object(Bucket=bucket, Key=key)  # so do deletes
        cleared = seconds(
            lambda: wait_for(lambda: counted(seaweedfs, bucket)[1] < MiB, timeout=30, interval=0.5)
        )
        assert refusal(s3, bucket) is not None  # still read-only until enforce runs again
        weed_shell(seaweedfs, "s3.bucket.quota.enforce -apply")
        allowed = seconds(lambda: wait_for(lambda: refusal(s3, bucket) is None, timeout=15, interval=0.05))

        # stored needles, compressed: 3 MiB of one byte passes a 1 MiB quota unseen
        before = counted(seaweedfs, bucket)[1]
        s3.put_object(Bucket=bucket, Key="z", Body=b"z" * (3 * MiB))
        wait_for(lambda: counted(seaweedfs, bucket)[1] != before, timeout=30, interval=0.5)
        compressed = counted(seaweedfs, bucket)[1] - before
        weed_shell(seaweedfs, "s3.bucket.quota.enforce -apply")
        assert 0 < compressed < MiB
        assert refusal(s3, bucket) is None
    finally:
        weed_shell(seaweedfs, f"s3.bucket.quota -name={bucket} -op=remove")
        weed_shell(seaweedfs, "s3.bucket.quota.enforce -apply")
    timings = {
        "master heard the writes (s)": round(heard, 1),
        "enforce ran (s)": round(enforce, 2),
        "refused after enforce (s)": round(refused, 2),
        "master heard the deletes (s)": round(cleared, 1),
        "writable after enforce (s)": round(allowed, 2),
        "3 MiB of one byte counted as (bytes)": compressed,
    }
    record_property("seaweedfs native quota", timings)
    log.info("seaweedfs native quota: %s", timings)
