"""Grant one Loopback key over the buckets of a BucketAccess, each in its own mode, and revoke it.

The key is named after COSI's account name, and its issue goes with an ``Idempotency-Key`` made of
the whole request: the sidecar's retry gets the first answer, secret and all, and makes no second
key. A key of that name with other grants is ALREADY_EXISTS. One that the API no longer replays
(a day later) is replaced: the new key is issued, and the old one, whose secret nobody holds any
more, revoked. What the family cannot do is the API's to say: more buckets than one key may
reach is OUT_OF_RANGE, a mode it cannot enforce INVALID_ARGUMENT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from loopback.client.errors import ApiProblem
from loopback.cosi.api import Json, LoopbackApi
from loopback.cosi.buckets import Deadline, ReadyBucket, idempotency_key, ready
from loopback.cosi.errors import DriverError, invalid, reason
from loopback.cosi.handles import AccessRef, Place, access_ref, bucket_ref, key_name
from loopback.cosi.parameters import KeyOptions

MODES = {"READ_WRITE": "read-write", "READ_ONLY": "read-only", "WRITE_ONLY": "write-only"}


@dataclass(frozen=True)
class Asked:
    """One bucket of a BucketAccess: its handle and COSI's mode name (READ_WRITE ...)."""

    handle: str
    mode: str


@dataclass(frozen=True)
class Granted:
    ref: AccessRef
    access_key_id: str
    secret_access_key: str
    buckets: tuple[ReadyBucket, ...]


def _grants(asked: Sequence[Asked]) -> tuple[Place, list[dict[str, str]]]:
    if not asked:
        raise invalid("a BucketAccess names one bucket at least")
    refs = [bucket_ref(a.handle) for a in asked]
    places = {r.place for r in refs}
    if len(places) > 1:
        raise DriverError(
            grpc.StatusCode.OUT_OF_RANGE,
            "one Loopback key reaches the buckets of one project; these are in "
            + ", ".join(sorted(f"{p.organization}/{p.project}" for p in places)),
        )
    grants = []
    for a, ref in zip(asked, refs, strict=True):
        if a.mode not in MODES:
            raise invalid(f"bucket {a.handle}: access mode {a.mode} is not one of {', '.join(MODES)}")
        grants.append({"bucket_id": ref.bucket_id, "access": MODES[a.mode]})
    return refs[0].place, grants


def _same_grants(key: Json, grants: list[dict[str, str]]) -> bool:
    held = [(g["bucket_id"], g["access"], g.get("prefix")) for g in key.get("grants", [])]
    return sorted(held) == sorted((g["bucket_id"], g["access"], None) for g in grants)


# What the API says when one key cannot hold these buckets together (credentials.service).
TOGETHER = ("one key reaches one provider region", "one key reaches at most")


def refusal(problem: ApiProblem) -> DriverError:
    """The API's 422 on a key as COSI's codes: buckets one key cannot reach together (more than the
    family puts under one key, or another provider region) are OUT_OF_RANGE, the rest INVALID_ARGUMENT."""
    if any(words in e.detail for e in problem.errors for words in TOGETHER):
        return DriverError(grpc.StatusCode.OUT_OF_RANGE, reason(problem))
    return invalid(reason(problem))


class Access:
    """The access half of COSI's Provisioner service, over Loopback's API."""

    def __init__(self, api: LoopbackApi) -> None:
        self.api = api

    def grant(
        self, account_name: str, asked: Sequence[Asked], options: KeyOptions, deadline: Deadline
    ) -> Granted:
        place, grants = _grants(asked)
        if options.organization not in (None, place.organization):
            raise invalid(
                f"this BucketAccessClass grants keys in organization {options.organization}, "
                f"not {place.organization}"
            )
        refs = [bucket_ref(a.handle) for a in asked]
        buckets = tuple(ready(self.api, ref, self.api.bucket(ref), deadline) for ref in refs)
        name = key_name(account_name)
        held = self.api.keys_named(place, name)
        other = [k for k in held if not _same_grants(k, grants)]
        if other:
            shown = ", ".join(f"{g['bucket']} {g['access']}" for g in other[0]["grants"])
            raise DriverError(
                grpc.StatusCode.ALREADY_EXISTS,
                f"access {account_name!r} exists with other grants ({shown}): revoke it first",
            )
        body: dict[str, Any] = {"name": name, "grants": grants, "expires_in_days": options.expires_in_days}
        key = idempotency_key("grant", {"organization": place.organization, "project": place.project, **body})
        try:
            issued = self.api.issue_key(place, body, key)
        except ApiProblem as problem:
            if problem.status == 422:
                raise refusal(problem) from None
            raise
        for stale in held:  # issued again after the replay window: the old secret is nobody's now
            if stale["id"] != issued["id"]:
                self.api.revoke_key(place, stale["id"])
        return Granted(AccessRef(place, name), issued["access_key_id"], issued["secret_access_key"], buckets)

    def revoke(self, handle: str) -> None:
        """Revoke every working key of the access; OK when there is none left."""
        ref = access_ref(handle)
        for key in self.api.keys_named(ref.place, ref.key_name):
            try:
                self.api.revoke_key(ref.place, key["id"])
            except ApiProblem as problem:
                if problem.status != 404:
                    raise
