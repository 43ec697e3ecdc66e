"""What a fault run asked for and was told, and the checks that hold the system to it.

The ``Ledger`` is the client's side of the story: every create that answered 202, every delete
that answered 202, every key issued and revoked. The checks compare it with the database and
with what SeaweedFS holds, seen with the operator's own boto3 clients.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
from botocore.config import Config
from botocore.exceptions import ClientError
from sqlalchemy import select

from loopback.buckets.models import Bucket, BucketStatus
from loopback.credentials.models import Credential, CredentialStatus
from loopback.kit.clock import utcnow
from tests.faults.topology import BUCKETS, OPERATOR_TOKEN, PROJECT, ApiProcess, Topology, progress

CONVERGE_SECONDS = 60.0
# What S3 answers a key that no longer exists, or no longer reaches the bucket.
DENIED = frozenset({"InvalidAccessKeyId", "AccessDenied", "SignatureDoesNotMatch", "403"})


@dataclass(frozen=True)
class IssuedKey:
    credential_id: str
    bucket_id: str
    bucket_name: str
    access_key_id: str
    secret_access_key: str


@dataclass
class Ledger:
    """The client's record: what answered 202 (or 201) must exist and reach its desired state."""

    accepted: dict[str, str] = field(default_factory=dict)  # bucket id -> name
    asked_at: dict[str, float] = field(default_factory=dict)  # bucket id -> when its last change was asked
    deleted: set[str] = field(default_factory=set)  # bucket ids whose delete answered 202
    keys: dict[str, IssuedKey] = field(default_factory=dict)  # credential id -> the key as issued
    revoked: set[str] = field(default_factory=set)  # credential ids revoked through the API
    lock: threading.Lock = field(default_factory=threading.Lock)

    def desired(self, bucket_id: str) -> str:
        return BucketStatus.DELETED if bucket_id in self.deleted else BucketStatus.READY

    def ready_buckets(self) -> list[tuple[str, str]]:
        """(id, name) of the accepted buckets that are meant to stay, oldest first."""
        return [(i, n) for i, n in self.accepted.items() if i not in self.deleted]


class Api:
    """The operator over HTTP, at whatever address the API process has now; no retries here."""

    def __init__(self, api: ApiProcess, timeout: float = 90.0) -> None:
        self.api = api
        self.client = httpx.Client(
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
            timeout=timeout,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=0),
        )

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, f"{self.api.url}{path}", **kwargs)

    def create(self, ledger: Ledger, name: str, key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        body = {"name": name, "provider": "local", "region": "local-1"}
        answer = self.request("POST", BUCKETS, json=body, headers=headers)
        if answer.status_code == 202:
            with ledger.lock:
                ledger.accepted[answer.json()["id"]] = name
                ledger.asked_at.setdefault(answer.json()["id"], time.monotonic())
        return answer

    def delete(self, ledger: Ledger, bucket_id: str) -> httpx.Response:
        asked = time.monotonic()
        answer = self.request("DELETE", f"{BUCKETS}/{bucket_id}")
        if answer.status_code == 202:
            with ledger.lock:
                ledger.deleted.add(bucket_id)
                ledger.asked_at[bucket_id] = asked
        return answer

    def issue(self, ledger: Ledger, bucket_id: str, key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        answer = self.request("POST", f"{BUCKETS}/{bucket_id}/credentials", json={}, headers=headers)
        if answer.status_code == 201:
            body = answer.json()
            with ledger.lock:
                ledger.keys[body["id"]] = IssuedKey(
                    body["id"], bucket_id, ledger.accepted[bucket_id], body["access_key_id"],
                    body["secret_access_key"],
                )  # fmt: skip
        return answer

    def revoke(self, ledger: Ledger, credential_id: str) -> httpx.Response:
        answer = self.request("DELETE", f"{PROJECT}/credentials/{credential_id}")
        if answer.status_code == 200:
            with ledger.lock:
                ledger.revoked.add(credential_id)
        return answer


def expect(answer: httpx.Response, *statuses: int) -> httpx.Response:
    """An answer of one of ``statuses``, or a failure quoting the problem document."""
    assert answer.status_code in statuses, f"{answer.request.method} {answer.request.url}: {answer.text}"
    return answer


def _describe(bucket: Bucket | None, bucket_id: str, ledger: Ledger, now: float) -> str:
    if bucket is None:
        return f"{bucket_id}: answered 202 but has no row (a lost create)"
    claim = "none"
    if bucket.claimed_until is not None:
        claim = f"{(bucket.claimed_until - utcnow()).total_seconds():.0f} s left"
    return (
        f"{bucket_id} ({bucket.name}): {bucket.status}, wants {ledger.desired(bucket_id)}, "
        f"waited {now - ledger.asked_at.get(bucket_id, now):.0f} s, attempts {bucket.attempts}, "
        f"claim {claim}, reason {bucket.status_reason!r}"
    )


def wait_converged(topology: Topology, ledger: Ledger, timeout: float = CONVERGE_SECONDS) -> dict[str, float]:
    """Wait until every accepted bucket is in its desired state; return how long each took since
    it was asked. A ``failed`` bucket, a missing row or the deadline fail with every laggard named."""
    started = time.monotonic()
    deadline = started + timeout
    waiting = set(ledger.accepted)
    took: dict[str, float] = {}
    while True:
        now = time.monotonic()
        with topology.runtime.db.session() as session:
            rows = {b.id: b for b in session.scalars(select(Bucket).where(Bucket.id.in_(waiting)))}
            for bucket_id, bucket in rows.items():
                if bucket.status == ledger.desired(bucket_id):
                    took[bucket_id] = now - ledger.asked_at[bucket_id]
                    waiting.discard(bucket_id)
            broken = [
                i for i in waiting if i not in rows or rows[i].status == BucketStatus.FAILED
            ]  # fmt: skip
            if not waiting:
                break
            if broken or now > deadline:
                laggards = "\n  ".join(_describe(rows.get(i), i, ledger, now) for i in sorted(waiting))
                raise AssertionError(
                    f"{len(waiting)} of {len(ledger.accepted)} buckets did not converge within "
                    f"{now - started:.0f} s of waiting:\n  {laggards}"
                )
        time.sleep(0.1)  # not 0.5: the last poll added up to 0.5 s to each of the waits
    times = sorted(took.values())
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    progress(
        f"{len(times)} buckets converged; since asked: median {statistics.median(times):.1f} s, "
        f"p95 {p95:.1f} s, max {times[-1]:.1f} s (waited {time.monotonic() - started:.1f} s)"
    )
    return took


def _remote_users(iam: Any) -> set[str]:
    users: set[str] = set()
    marker: dict[str, str] = {}
    while True:
        page = iam.list_users(**marker)
        users |= {u["UserName"] for u in page["Users"] if u["UserName"].startswith("lb-")}
        if not page.get("IsTruncated"):
            return users
        marker = {"Marker": page["Marker"]}


def assert_nothing_orphaned(topology: Topology) -> None:
    """SeaweedFS holds exactly the buckets and IAM users the database says are live."""
    remote_buckets = {b["Name"] for b in topology.operator("s3").list_buckets()["Buckets"]}
    remote_users = _remote_users(topology.operator("iam"))
    with topology.runtime.db.session() as session:
        rows = session.execute(select(Bucket.name, Bucket.status)).all()
        users = set(
            session.scalars(
                select(Credential.provider_user).where(Credential.status == CredentialStatus.ACTIVE)
            )
        )
    live = {name for name, status in rows if status != BucketStatus.DELETED}
    ready = {name for name, status in rows if status == BucketStatus.READY}
    problems = {
        "remote buckets with no live row": sorted(remote_buckets - live),
        "ready rows with no remote bucket": sorted(ready - remote_buckets),
        "IAM users with no active key": sorted(remote_users - users),
        "active keys with no IAM user": sorted(users - remote_users),
    }
    found = {what: names for what, names in problems.items() if names}
    assert not found, f"orphans after the faults: {found}"
    progress(
        f"no orphans: {len(remote_buckets)} remote buckets, {len(remote_users)} IAM users match the rows"
    )


def _s3_as(topology: Topology, key: IssuedKey) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=topology.storage.endpoint,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        region_name="local-1",
        config=Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 1}),
    )


def assert_keys_honest(topology: Topology, ledger: Ledger) -> None:
    """A revoked key (through the API, or with its deleted bucket) is refused; a live key works."""
    with topology.runtime.db.session() as session:
        ids = list(ledger.keys)
        status = dict(
            session.execute(select(Credential.id, Credential.status).where(Credential.id.in_(ids))).all()
        )
    assert set(status) == set(ledger.keys), f"issued keys with no row: {set(ledger.keys) - set(status)}"
    should_be_revoked = ledger.revoked | {c for c, k in ledger.keys.items() if k.bucket_id in ledger.deleted}
    still_active = sorted(c for c in should_be_revoked if status[c] == CredentialStatus.ACTIVE)
    assert not still_active, (
        f"keys revoked or on a deleted bucket but still active in the database: {still_active}"
    )
    outlived, broken = [], []
    for credential_id, key in sorted(ledger.keys.items()):
        s3 = _s3_as(topology, key)
        try:
            s3.list_objects_v2(Bucket=key.bucket_name, MaxKeys=1)
            if status[credential_id] != CredentialStatus.ACTIVE:
                outlived.append(f"{credential_id} ({status[credential_id]}) still lists {key.bucket_name}")
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if status[credential_id] == CredentialStatus.ACTIVE:
                broken.append(f"{credential_id} is active but S3 answers {code}")
            elif code not in DENIED:
                outlived.append(f"{credential_id} ({status[credential_id]}) authenticates: S3 answers {code}")
    assert not outlived, f"keys that outlived their revocation: {outlived}"
    assert not broken, f"live keys that stopped working: {broken}"
    revoked = sum(1 for s in status.values() if s != CredentialStatus.ACTIVE)
    progress(f"keys honest: {revoked} revoked keys refused, {len(status) - revoked} live keys work")
