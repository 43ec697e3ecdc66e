"""Family ``s3``: any S3 endpoint with an IAM-compatible identity API (SeaweedFS, MinIO, Ceph RGW).

Buckets go through the S3 API; each credential is its own IAM user with an inline policy that
allows object operations on its granted buckets (each read-write, read-only or write-only,
optionally under a prefix) and nothing else: never a bucket's policy, ACL, versioning,
lifecycle, CORS, replication or object lock, and never creating or deleting a bucket.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from loopback.providers.base import (
    Access,
    Capabilities,
    Grant,
    IssuedCredential,
    Placement,
    ProviderError,
    RegionSpec,
    Usage,
)

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

T = TypeVar("T")

TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
    }
)
POLICY_NAME = "loopback-bucket-access"
ALREADY_OURS = frozenset({"BucketAlreadyOwnedByYou"})
ALREADY_EXISTS = frozenset({"EntityAlreadyExists"})
NO_BUCKET = frozenset({"404", "NoSuchBucket", "NotFound"})
NO_ENTITY = frozenset({"NoSuchEntity"})
NOT_IMPLEMENTED = frozenset({"NotImplemented", "501"})
NO_UPLOAD = frozenset({"NoSuchUpload", "404"})
# ListBuckets pages of this many names (AWS's MaxBuckets, which SeaweedFS, Ceph and MinIO honour);
# a provider that refuses the parameter is asked again without it.
LIST_BUCKETS_PAGE = 1000

# Every S3 and IAM call is bounded, so a provider that hangs (stopped, overloaded, a black hole)
# becomes a transient ProviderError, which the reconcile retries with its reason shown, within
# seconds: connecting, each wait for data, and one retry by botocore of what it deems transient
# (at most 2 x (3 + 10) s). The reconcile's own retries, with backoff, follow.
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 10.0
CALL_ATTEMPTS = 2  # the first try and one retry (botocore's total_max_attempts)


@dataclass(frozen=True)
class S3ProviderConfig:
    """What the operator configured: regions, an optional separate IAM endpoint, service keys."""

    name: str
    regions: tuple[RegionSpec, ...]
    access_key_id: str
    secret_access_key: str
    iam_endpoint: str | None = None
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS
    read_timeout: float = READ_TIMEOUT_SECONDS
    attempts: int = CALL_ATTEMPTS

    def __repr__(self) -> str:
        return f"S3ProviderConfig(name={self.name!r}, regions={self.regions!r})"


# <SecretAccessKey>…</…> in XML bodies; 'SecretAccessKey': '…' in parsed responses and JSON.
SECRET_IN_TEXT = re.compile(r"""(SecretAccessKey(?:>|['"]?\s*[:=]\s*['"]?))[^<'"\s,}]+""")


class RedactSecretAccessKeys(logging.Filter):
    """botocore logs whole response bodies at DEBUG, and CreateAccessKey's carries the secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            message = record.getMessage()
            if "SecretAccessKey" in message:
                record.msg = SECRET_IN_TEXT.sub(r"\1[redacted]", message)
                record.args = None
        return True


def guard_botocore_logs() -> None:
    """Install the redaction once on the loggers that print response bodies and parsed responses."""
    for name in ("botocore.parsers", "botocore.endpoint", "botocore.hooks"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretAccessKeys) for f in target.filters):
            target.addFilter(RedactSecretAccessKeys())


# The narrowest actions SeaweedFS 4.x's IAM accepts for each mode (it refuses AWS's
# s3:ListMultipartUploadParts and s3:ListBucketMultipartUploads as "not a valid action" and names
# them s3:ListParts and s3:ListMultipartUploads; AWS, MinIO and Ceph accept the same names or
# treat unknown ones as no grant). Multipart create, upload part and complete are s3:PutObject.
BUCKET_ACTIONS: dict[Access, tuple[str, ...]] = {
    Access.READ_WRITE: ("s3:ListBucket", "s3:ListMultipartUploads", "s3:GetBucketLocation"),
    Access.READ_ONLY: ("s3:ListBucket", "s3:GetBucketLocation"),
    Access.WRITE_ONLY: (),
}
OBJECT_ACTIONS: dict[Access, tuple[str, ...]] = {
    Access.READ_WRITE: (
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListParts",
        "s3:GetObjectTagging",
        "s3:PutObjectTagging",
        "s3:DeleteObjectTagging",
    ),
    Access.READ_ONLY: ("s3:GetObject", "s3:GetObjectTagging"),
    Access.WRITE_ONLY: ("s3:PutObject", "s3:AbortMultipartUpload", "s3:PutObjectTagging"),
}


# What a key keeps of its grant while the bucket is over quota (``Grant.writable`` false): reading,
# deleting and abandoning uploads, the ways to make room; nothing that stores a byte more.
WRITES = frozenset({"s3:PutObject", "s3:PutObjectTagging"})


def grant_statements(grant: Grant) -> list[dict[str, Any]]:
    """The statements of one grant: bucket-level actions on the bucket, object actions on its keys.

    A prefix limits the object resource to ``bucket/prefix*`` and listing to ``s3:prefix`` under it.
    A grant that may not write (its bucket over quota) loses ``WRITES``.
    """
    prefix = grant.prefix or ""
    statements: list[dict[str, Any]] = []
    bucket_actions = BUCKET_ACTIONS[grant.access]
    if bucket_actions:
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Action": list(bucket_actions),
            "Resource": [f"arn:aws:s3:::{grant.bucket}"],
        }
        if prefix:
            statement["Condition"] = {"StringLike": {"s3:prefix": [f"{prefix}*"]}}
        statements.append(statement)
    statements.append(
        {
            "Effect": "Allow",
            "Action": [a for a in OBJECT_ACTIONS[grant.access] if grant.writable or a not in WRITES],
            "Resource": [f"arn:aws:s3:::{grant.bucket}/{prefix}*"],
        }
    )
    return statements


def user_policy(grants: Sequence[Grant]) -> str:
    """The inline IAM policy of a key: its grants' object operations and nothing else."""
    if not grants:
        raise ValueError("a key needs at least one grant")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [statement for grant in grants for statement in grant_statements(grant)],
        }
    )


def with_statement(
    existing: str | None, bucket: str, sid: str, statement: dict[str, Any] | None, action: str
) -> dict[str, Any]:
    """The bucket policy ``existing`` with its statement ``sid`` replaced by ``statement`` (taken out
    when None); every other statement kept. A policy that is not a JSON object is refused
    (``MalformedPolicy``) rather than overwritten."""
    try:
        policy: Any = json.loads(existing) if existing else {}
    except ValueError:
        raise ProviderError(
            f"{action}: the policy of bucket {bucket} is not JSON; fix or delete it",
            transient=False,
            code="MalformedPolicy",
        ) from None
    if not isinstance(policy, dict):
        raise ProviderError(
            f"{action}: the policy of bucket {bucket} is not a JSON object; fix or delete it",
            transient=False,
            code="MalformedPolicy",
        )
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else list(statements)
    kept = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") == sid)]
    return {
        **policy,
        "Version": policy.get("Version", "2012-10-17"),
        "Statement": kept if statement is None else [*kept, statement],
    }


def classify(error: Exception, action: str) -> ProviderError:
    """Turn a botocore error into a ProviderError that knows whether a retry can help."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", "Unknown"))
        message = str(details.get("Message") or code)
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        transient = code in TRANSIENT_CODES or status >= 500
        return ProviderError(f"{action}: {code}: {message}", transient=transient, code=code)
    if isinstance(error, ReadTimeoutError):  # connected, and no answer came in time
        return ProviderError(f"{action}: provider unreachable: {error}", transient=True, code="Timeout")
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return ProviderError(f"{action}: provider unreachable: {error}", transient=True, code="Unreachable")
    return ProviderError(f"{action}: {error}", transient=False, code=type(error).__name__)


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3Provider:
    """A provider of family ``s3``; boto3 clients are built lazily per region and reused."""

    family = "s3"

    def __init__(self, config: S3ProviderConfig) -> None:
        guard_botocore_logs()
        self.name = config.name
        self._config = config
        self._regions = {region.code: region for region in config.regions}
        self._session = boto3.session.Session(
            aws_access_key_id=config.access_key_id,
            aws_secret_access_key=config.secret_access_key,
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._botocore_config = Config(
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            retries={"total_max_attempts": config.attempts, "mode": "standard"},
            s3={"addressing_style": "path"},
            signature_version="s3v4",
        )

    def _client(self, service: str, region: str) -> Any:
        spec = self._region(region)
        endpoint = spec.endpoint if service == "s3" else (self._config.iam_endpoint or spec.endpoint)
        key = (service, region)
        with self._lock:  # boto3 sessions are not thread-safe; the clients they make are.
            if key not in self._clients:
                self._clients[key] = self._session.client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=endpoint,
                    region_name=region,
                    config=self._botocore_config,
                )
            return self._clients[key]

    def _s3(self, region: str) -> S3Client:
        client: S3Client = self._client("s3", region)
        return client

    def _iam(self, region: str) -> IAMClient:
        client: IAMClient = self._client("iam", region)
        return client

    def _region(self, region: str) -> RegionSpec:
        try:
            return self._regions[region]
        except KeyError:
            raise ProviderError(
                f"provider {self.name} has no region {region}", transient=False, code="NoSuchRegion"
            ) from None

    def _call(
        self, action: str, call: Callable[[], T], *, tolerate: frozenset[str] = frozenset()
    ) -> T | None:
        """Run one provider call; error codes in ``tolerate`` mean "already so" and give ``None``."""
        try:
            return call()
        except ClientError as error:
            if _error_code(error) in tolerate:
                return None
            raise classify(error, action) from error
        except BotoCoreError as error:
            raise classify(error, action) from error

    def regions(self) -> list[RegionSpec]:
        return list(self._config.regions)

    def capabilities(self) -> Capabilities:
        return Capabilities(per_bucket_credentials=True, native_usage_stats=False)

    def name_problems(self, bucket: str, region: str) -> list[str]:
        return []  # S3's rules, checked for every family, are all a partner's endpoint asks

    def slots(self) -> tuple[str, ...]:
        return ()

    def create_bucket(self, bucket: str, region: str, placement: Placement) -> None:
        s3 = self._s3(region)
        self._call("create bucket", lambda: s3.create_bucket(Bucket=bucket), tolerate=ALREADY_OURS)

    def bucket_exists(self, bucket: str, region: str, placement: Placement) -> bool:
        s3 = self._s3(region)
        return (
            self._call("inspect bucket", lambda: s3.head_bucket(Bucket=bucket), tolerate=NO_BUCKET)
            is not None
        )

    def bucket_names(self, region: str, placement: Placement) -> set[str]:
        """Every bucket the operator's key owns here: ListBuckets, page by page."""
        s3 = self._s3(region)
        try:
            return self._call("list buckets", lambda: self._list_bucket_names(s3, LIST_BUCKETS_PAGE)) or set()
        except ProviderError as error:
            if error.code != "InvalidArgument":
                raise
            return self._call("list buckets", lambda: self._list_bucket_names(s3, None)) or set()

    @staticmethod
    def _list_bucket_names(s3: S3Client, page_size: int | None) -> set[str]:
        names: set[str] = set()
        token: str | None = None
        while True:
            arguments: dict[str, Any] = {"MaxBuckets": page_size} if page_size else {}
            if token:
                arguments["ContinuationToken"] = token
            page = s3.list_buckets(**arguments)
            found = {entry["Name"] for entry in page.get("Buckets", []) if "Name" in entry}
            token = page.get("ContinuationToken")
            if not token or found <= names:  # the last page, or a provider repeating itself
                return names | found
            names |= found

    def object_count_hint(self, bucket: str, region: str, limit: int, placement: Placement) -> int:
        s3 = self._s3(region)
        listing = self._call(
            "list objects", lambda: s3.list_objects_v2(Bucket=bucket, MaxKeys=limit), tolerate=NO_BUCKET
        )
        return 0 if listing is None else int(listing.get("KeyCount", len(listing.get("Contents", []))))

    def empty_bucket(self, bucket: str, region: str, placement: Placement) -> int:
        s3 = self._s3(region)
        removed = 0
        while True:  # each round lists and deletes at most 1000 keys, until none are left
            listing = self._call(
                "list objects", lambda: s3.list_objects_v2(Bucket=bucket, MaxKeys=1000), tolerate=NO_BUCKET
            )
            keys: list[ObjectIdentifierTypeDef] = [
                {"Key": item["Key"]}
                for item in (listing["Contents"] if listing and "Contents" in listing else [])
            ]
            if not keys:
                return removed
            answer = self._call(
                "delete objects",
                functools.partial(s3.delete_objects, Bucket=bucket, Delete={"Objects": keys, "Quiet": True}),
            )
            errors = answer["Errors"] if answer and "Errors" in answer else []
            if errors:
                first = errors[0]
                raise ProviderError(
                    f"delete objects: {first.get('Code')}: {first.get('Message')} ({len(errors)} keys left)",
                    transient=False,
                    code=first.get("Code"),
                )
            removed += len(keys)

    def delete_bucket(self, bucket: str, region: str, placement: Placement) -> None:
        s3 = self._s3(region)
        self._call("delete bucket", lambda: s3.delete_bucket(Bucket=bucket), tolerate=NO_BUCKET)

    def bucket_policy(self, bucket: str, region: str) -> str | None:
        s3 = self._s3(region)
        answer = self._call(
            "read bucket policy",
            lambda: s3.get_bucket_policy(Bucket=bucket),
            tolerate=frozenset({"NoSuchBucketPolicy"}),
        )
        return None if answer is None else str(answer["Policy"])

    def put_bucket_policy(self, bucket: str, region: str, policy: str) -> None:
        s3 = self._s3(region)
        self._call("write bucket policy", lambda: s3.put_bucket_policy(Bucket=bucket, Policy=policy))

    def delete_bucket_policy(self, bucket: str, region: str) -> None:
        s3 = self._s3(region)
        self._call("delete bucket policy", lambda: s3.delete_bucket_policy(Bucket=bucket), tolerate=NO_BUCKET)

    def issue_credential(
        self, region: str, user_name: str, grants: Sequence[Grant], placement: Placement
    ) -> IssuedCredential:
        iam = self._iam(region)
        self._call("create user", lambda: iam.create_user(UserName=user_name), tolerate=ALREADY_EXISTS)
        try:
            self.update_credential(region, user_name, grants, placement)
            created = self._call("create access key", lambda: iam.create_access_key(UserName=user_name))
            assert created is not None
        except ProviderError:
            with contextlib.suppress(ProviderError):  # leave no half-made identity behind
                self.revoke_credential(region, user_name, placement)
            raise
        key = created["AccessKey"]
        return IssuedCredential(
            provider_user=user_name,
            access_key_id=key["AccessKeyId"],
            secret_access_key=key["SecretAccessKey"],
        )

    def update_credential(
        self, region: str, provider_user: str, grants: Sequence[Grant], placement: Placement
    ) -> None:
        """Replace the user's inline policy; its keys stay the same and obey the new one."""
        iam = self._iam(region)
        document = user_policy(grants)
        self._call(
            "attach key policy",
            lambda: iam.put_user_policy(
                UserName=provider_user, PolicyName=POLICY_NAME, PolicyDocument=document
            ),
        )

    def revoke_credential(self, region: str, provider_user: str, placement: Placement) -> None:
        iam = self._iam(region)
        listing = self._call(
            "list access keys", lambda: iam.list_access_keys(UserName=provider_user), tolerate=NO_ENTITY
        )
        if listing is None:
            return
        for key in listing["AccessKeyMetadata"]:
            self._call(
                "delete access key",
                functools.partial(
                    iam.delete_access_key, UserName=provider_user, AccessKeyId=key["AccessKeyId"]
                ),
                tolerate=NO_ENTITY,
            )
        self._call(
            "delete user policy",
            lambda: iam.delete_user_policy(UserName=provider_user, PolicyName=POLICY_NAME),
            tolerate=NO_ENTITY,
        )
        self._call("delete user", lambda: iam.delete_user(UserName=provider_user), tolerate=NO_ENTITY)

    def read_usage(self, bucket: str, region: str, placement: Placement) -> Usage:
        """Every stored version (ListObjectVersions, which also answers for a bucket never
        versioned) and every uploaded part of an unfinished multipart upload (ListMultipartUploads,
        then ListParts of each): two calls for a bucket without uploads left open. A provider
        without a versioning API (Garage) is listed with ListObjectsV2 instead."""
        s3 = self._s3(region)
        stored = self._call(
            "read usage", lambda: _sum_versions(s3, bucket), tolerate=NOT_IMPLEMENTED
        ) or self._call("read usage", lambda: _sum_current(s3, bucket))
        parts = self._call(
            "read unfinished uploads", lambda: _sum_unfinished(s3, bucket), tolerate=NOT_IMPLEMENTED
        )
        objects, size = stored or (0, 0)
        part_count, part_bytes = parts or (0, 0)
        return Usage(object_count=objects + part_count, bytes=size + part_bytes)

    def check(self) -> None:
        first = next(iter(self._regions), None)
        if first is None:
            raise ProviderError(f"provider {self.name} has no regions", transient=False)
        self._call("list buckets", lambda: self._s3(first).list_buckets())


def _count_and_bytes(pages: Iterable[Any], entries: str) -> tuple[int, int]:
    """How many ``entries`` (``Versions``, ``Contents``, ``Parts``) the pages list, and their sizes."""
    count = size = 0
    for page in pages:
        for entry in page.get(entries, []):
            count += 1
            size += int(entry.get("Size", 0))
    return count, size


def _sum_versions(s3: S3Client, bucket: str) -> tuple[int, int]:
    """Every version, current and noncurrent; delete markers hold nothing."""
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 1000}
    )
    return _count_and_bytes(pages, "Versions")


def _sum_current(s3: S3Client, bucket: str) -> tuple[int, int]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 1000})
    return _count_and_bytes(pages, "Contents")


def _sum_unfinished(s3: S3Client, bucket: str) -> tuple[int, int]:
    """The parts uploaded so far to every multipart upload not completed."""
    count = size = 0
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            key, upload_id = upload.get("Key"), upload.get("UploadId")
            if key is None or upload_id is None:
                continue
            parts = s3.get_paginator("list_parts").paginate(Bucket=bucket, Key=key, UploadId=upload_id)
            try:
                found = _count_and_bytes(parts, "Parts")
            except ClientError as error:
                if _error_code(error) not in NO_UPLOAD:
                    raise
                continue  # completed or aborted between the two listings: an object now, or gone
            count, size = count + found[0], size + found[1]
    return count, size
