"""Create, adopt and delete a bucket for COSI, each waiting for Loopback within the sidecar's deadline.

Create is idempotent on COSI's name: the same name always makes the same S3 name, the request
goes with an ``Idempotency-Key`` made of everything it asks (a retry gets the first answer back),
and a name the API says is taken is looked up in the project: the same placement is the same
bucket (OK), another one is ALREADY_EXISTS. Nothing is created twice when the sidecar retries.

A bucket the provider has not made yet is waited for until just before the sidecar's deadline;
still not ready then (the provider is down, say), the call answers UNAVAILABLE with the bucket's
own reason, and the sidecar's retry finds the same bucket.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc

from loopback.client.errors import ApiProblem
from loopback.cosi.api import Json, LoopbackApi
from loopback.cosi.errors import DriverError, unavailable
from loopback.cosi.handles import BucketRef, Place, bucket_name, bucket_ref, is_bucket_handle
from loopback.cosi.parameters import Placement

POLL_SECONDS = 0.1
ADDRESSING_STYLE = "path"  # what every Loopback endpoint serves; virtual hosting needs wildcard DNS
GONE = ("deleting", "deleted")


@dataclass(frozen=True)
class Install:
    """The install link the driver gives a bucket: the cluster, the claim's namespace and name."""

    cluster: str | None
    namespace: str | None
    claim: str | None

    def document(self, placement: Placement) -> dict[str, str | None] | None:
        parts = {
            "catalog_item": placement.catalog_item,
            "release": placement.release,
            "cluster": self.cluster,
            "namespace": self.namespace,
            "claim": self.claim,
        }
        return parts if any(parts.values()) else None


@dataclass(frozen=True)
class ReadyBucket:
    """What COSI is told of a ready bucket: its handle, and what an S3 client needs besides a key."""

    ref: BucketRef
    name: str
    endpoint: str
    region: str
    addressing_style: str = ADDRESSING_STYLE


class Deadline:
    """The time a call may take: the sidecar's deadline less a margin to answer in, capped."""

    def __init__(
        self, remaining: float | None, cap: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        budget = cap if remaining is None else min(cap, remaining - max(0.2, remaining * 0.1))
        self.clock = clock
        self.ends = clock() + max(budget, 0.0)

    def left(self) -> float:
        return self.ends - self.clock()


Post = Callable[[Place, Mapping[str, Any], str], Json]


def idempotency_key(kind: str, request: Mapping[str, Any]) -> str:
    """One key per distinct request: the same request repeats it, any change makes another."""
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    return f"cosi-{kind}-{digest[:40]}"


def ready(api: LoopbackApi, ref: BucketRef, bucket: Json, deadline: Deadline) -> ReadyBucket:
    """The bucket once it is ready; FAILED_PRECONDITION when it cannot be, UNAVAILABLE at the deadline."""
    while True:
        status = bucket.get("status")
        if status == "ready" and bucket.get("endpoint"):
            return ReadyBucket(ref, bucket["name"], bucket["endpoint"], bucket["region"])
        if status in ("failed", "lost", *GONE):
            why = f": {bucket['status_reason']}" if bucket.get("status_reason") else ""
            raise DriverError(
                grpc.StatusCode.FAILED_PRECONDITION, f"bucket {bucket.get('name')!r} is {status}{why}"
            )
        if deadline.left() <= 0:
            why = bucket.get("status_reason") or "the provider has not made it yet"
            tries = f" after {bucket['attempts']} attempts" if bucket.get("attempts") else ""
            raise unavailable(
                f"bucket {bucket.get('name')!r} at {bucket.get('provider')}/{bucket.get('region')} is "
                f"{status}{tries}: {why}; Loopback keeps trying, and a retry finds the same bucket"
            )
        time.sleep(min(POLL_SECONDS, max(deadline.left(), 0.0)))
        bucket = api.bucket(ref)


class Buckets:
    """The bucket half of COSI's Provisioner service, over Loopback's API."""

    def __init__(self, api: LoopbackApi) -> None:
        self.api = api

    @staticmethod
    def _posted(post: Post, placement: Placement, body: dict[str, Any], link: Json | None) -> Json:
        """``post`` the body, with its install link, under the ``Idempotency-Key`` of all it asks."""
        if link is not None:
            body = {**body, "install": link}
        where = {"organization": placement.place.organization, "project": placement.place.project}
        return post(placement.place, body, idempotency_key(post.__name__, {**where, **body}))

    def create(
        self, cosi_name: str, placement: Placement, install: Install, deadline: Deadline
    ) -> ReadyBucket:
        name = bucket_name(cosi_name)
        body: dict[str, Any] = {
            "name": name,
            "provider": placement.provider,
            "region": placement.region,
            "deletion_policy": placement.deletion_policy,
        }
        try:
            bucket = self._posted(self.api.create_bucket, placement, body, install.document(placement))
        except ApiProblem as problem:
            if problem.status != 409:
                raise
            bucket = self._taken(problem, name, placement, install)
        ref = BucketRef(placement.place, bucket["id"])
        return ready(self.api, ref, bucket, deadline)

    def _taken(self, problem: ApiProblem, name: str, placement: Placement, install: Install) -> Json:
        """The project's bucket of this name when it is the one asked for; ALREADY_EXISTS otherwise."""
        if "still running" in problem.detail:  # the same request, sent before, not answered yet
            raise DriverError(grpc.StatusCode.ABORTED, f"a create of bucket {name!r} is still running")
        found = self.api.buckets_named(placement.place, name)
        same = [
            b
            for b in found
            if (b["provider"], b["region"], b["deletion_policy"])
            == (placement.provider, placement.region, placement.deletion_policy)
        ]
        if same:
            return same[0]
        if found:
            b = found[0]
            raise DriverError(
                grpc.StatusCode.ALREADY_EXISTS,
                f"bucket {name!r} exists in {placement.place.organization}/{placement.place.project} at "
                f"{b['provider']}/{b['region']} with deletion policy {b['deletion_policy']}: not what this "
                f"BucketClass asks ({placement.provider}/{placement.region}, {placement.deletion_policy})",
            )
        raise DriverError(
            grpc.StatusCode.ALREADY_EXISTS,
            f"the name {name!r} is taken at provider {placement.provider} by a bucket outside "
            f"{placement.place.organization}/{placement.place.project}",
        )

    def existing(
        self, existing_id: str, placement: Placement | None, install: Install, deadline: Deadline
    ) -> ReadyBucket:
        """A bucket that exists already: by its handle, or by its S3 name, adopted into the project."""
        if is_bucket_handle(existing_id):
            ref = bucket_ref(existing_id)
            return ready(self.api, ref, self.api.bucket(ref), deadline)
        if placement is None:
            raise DriverError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"to adopt the provider's bucket {existing_id!r} the BucketClass must name "
                "organization, project, provider and region",
            )
        found = [
            b
            for b in self.api.buckets_named(placement.place, existing_id)
            if (b["provider"], b["region"]) == (placement.provider, placement.region)
        ]
        if found:
            bucket = found[0]
        else:
            body: dict[str, Any] = {
                "name": existing_id,
                "provider": placement.provider,
                "region": placement.region,
            }
            try:
                bucket = self._posted(self.api.adopt_bucket, placement, body, install.document(placement))
            except ApiProblem as problem:
                if problem.status == 422 and any(e.field == "name" for e in problem.errors):
                    why = problem.errors[0].detail
                    raise DriverError(
                        grpc.StatusCode.NOT_FOUND, f"no bucket {existing_id!r} to adopt: {why}"
                    ) from None
                raise
        return ready(self.api, BucketRef(placement.place, bucket["id"]), bucket, deadline)

    def delete(self, handle: str, deadline: Deadline) -> None:
        """Delete the bucket (its own deletion policy applies); OK once it is gone or was already."""
        ref = bucket_ref(handle)
        try:
            bucket = self.api.bucket(ref)
            if bucket.get("status") != "deleted":
                if bucket.get("status") != "deleting":
                    bucket = self.api.delete_bucket(ref)
                while bucket.get("status") != "deleted":
                    if deadline.left() <= 0:
                        raise unavailable(f"bucket {bucket.get('name')!r} is still being deleted")
                    time.sleep(min(POLL_SECONDS, max(deadline.left(), 0.0)))
                    bucket = self.api.bucket(ref)
        except ApiProblem as problem:
            if problem.status == 404:
                return  # gone, or never ours to see: nothing is left to delete
            if problem.status == 409 and problem.field("object_count"):
                held = problem.field("object_count")
                noun = "object" if held == 1 else "objects"
                raise DriverError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"bucket holds {held} {noun}: empty it, then delete the claim",
                ) from None
            raise
