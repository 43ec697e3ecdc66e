"""The bucket-policy documents that give a tenant's IONOS user its buckets, in IONOS's principal forms.

IONOS names principals two ways (docs.ionos.com, Object Storage, Bucket Policy examples):
``{"CanonicalUser": ["<canonical user id>"]}`` for user-owned buckets and
``{"AWS": ["arn:aws:iam:::user/<contract user id>"]}`` for contract-owned ones, where the contract
user id "consists of contract number and user ID" (IONOS, Retrieve User IDs; written
``<contract number>:<user UUID>`` in published examples). Policies may be 20 KB (user-owned) or
1 MB (contract-owned) large.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from loopback.providers.base import ProviderError
from loopback.providers.ionos.regions import Ownership
from loopback.providers.s3 import with_statement

# What a key may do in its bucket: the objects and their listing, not the bucket itself (no
# DeleteBucket, no PutBucketPolicy): the control plane stays the one that shapes buckets.
GRANTED_ACTIONS: tuple[str, ...] = (
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:GetBucketLocation",
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
POLICY_SIZE_LIMITS: dict[Ownership, int] = {"user": 20 * 1024, "contract": 1024 * 1024}
STATEMENT_PREFIX = "Loopback"


def principal_for(
    ownership: Ownership, *, canonical_user_id: str, contract_user_id: str
) -> dict[str, list[str]]:
    """IONOS's principal for a user: CanonicalUser for user-owned buckets, the contract user ARN else."""
    if ownership == "user":
        return {"CanonicalUser": [canonical_user_id]}
    return {"AWS": [f"arn:aws:iam:::user/{contract_user_id}"]}


def statement_id(principal: Mapping[str, list[str]]) -> str:
    """A Sid derived from the principal alone, so granting the same identity twice is one statement."""
    digest = hashlib.sha256(json.dumps(principal, sort_keys=True).encode()).hexdigest()
    return f"{STATEMENT_PREFIX}{digest[:24]}"


# What a bucket over its quota keeps granted (``Grant.writable`` false): reading, listing, deleting and
# abandoning uploads, the ways to make room; ``s3:PutObject`` (uploads and their parts) goes.
HELD_ACTIONS: tuple[str, ...] = tuple(action for action in GRANTED_ACTIONS if action != "s3:PutObject")


def grant_statement(bucket: str, principal: Mapping[str, list[str]], writable: bool = True) -> dict[str, Any]:
    return {
        "Sid": statement_id(principal),
        "Effect": "Allow",
        "Principal": dict(principal),
        "Action": list(GRANTED_ACTIONS if writable else HELD_ACTIONS),
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }


def merged_policy(
    existing: str | None, bucket: str, principal: Mapping[str, list[str]], writable: bool = True
) -> dict[str, Any]:
    """``existing`` with this principal's statement added or replaced; every other statement kept."""
    statement = grant_statement(bucket, principal, writable)
    return with_statement(existing, bucket, statement_id(principal), statement, "grant access")


def policy_document(
    existing: str | None,
    bucket: str,
    ownership: Ownership,
    principal: Mapping[str, list[str]],
    writable: bool = True,
) -> str:
    """The bucket's policy with the principal's statement merged in, as IONOS takes it, within its size."""
    document = json.dumps(merged_policy(existing, bucket, principal, writable), separators=(",", ":"))
    limit = POLICY_SIZE_LIMITS[ownership]
    if len(document.encode()) > limit:
        raise ProviderError(
            f"grant access: the policy of bucket {bucket} would be {len(document.encode())} bytes; "
            f"IONOS allows {limit} for {ownership}-owned buckets",
            transient=False,
            code="PolicyTooLarge",
        )
    return document
