"""Local stand-ins for the admin APIs whose statistics family ``s3`` reads (``providers.s3_admin``).

Neither Ceph RGW, MinIO nor Garage runs here, so each is played by a small HTTP server on 127.0.0.1 that
checks every request against the server's published contract, and refuses what the server would:

- **The signature.** RGW's and MinIO's APIs are signed as S3 is (AWS Signature Version 4, service ``s3``). The
  stand-in recomputes the signature with botocore's own signer over the request as received (method,
  path, query, the headers the request says it signed, the body's SHA-256) with the key it was
  configured with, and answers 403 ``InvalidAccessKeyId`` for another key id and 403
  ``SignatureDoesNotMatch`` for another secret or region, with the server's JSON error body.
  Garage's takes a bearer token instead, and refuses another one.
- **The path and query**, exactly as documented, or 404 / 400.
- **The answer**, shaped as the server writes it (each answer's source is cited where it is built).
- **A body** (setting a bucket's quota): its SHA-256 against the signed ``x-amz-content-sha256``
  (400 ``XAmzContentSHA256Mismatch`` otherwise, as S3 answers), then its JSON against the fields
  the server reads; the quota it sets is held (``quotas``) and shown where the server shows it.

Every request is recorded (``requests``: path, query and the status answered; ``changes``: the
method, path, query, JSON body and status of each PUT or POST).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<day>\d{8})/(?P<region>[^/]+)/s3/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)
SKEW = timedelta(minutes=15)  # what AWS, RGW and MinIO allow between a request's time and theirs


def sigv4_refusal(
    method: str, url: str, headers: dict[str, str], access_key_id: str, secret: str, region: str
) -> str | None:
    """Why a server holding ``access_key_id``/``secret`` refuses this request's signature, or None."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    lowered = {name.lower(): value for name, value in headers.items()}
    found = AUTHORIZATION.fullmatch(lowered.get("authorization", ""))
    if found is None:
        return "AccessDenied"
    if found["key"] != access_key_id:
        return "InvalidAccessKeyId"
    stamp = lowered.get("x-amz-date", "")
    try:
        when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "AccessDenied"
    if abs(datetime.now(UTC) - when) > SKEW or found["day"] != stamp[:8]:
        return "RequestTimeTooSkewed"
    signed = found["signed"].split(";")
    if "host" not in signed or any(name not in lowered for name in signed):
        return "SignatureDoesNotMatch"
    request = AWSRequest(method=method, url=url, headers={name: lowered[name] for name in signed})
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(access_key_id, secret), "s3", region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return None if hmac.compare_digest(expected, found["signature"]) else "SignatureDoesNotMatch"


class AdminStandIn:
    """A threaded HTTP server that checks the signature, then lets ``answer`` route the request."""

    def __init__(self, access_key_id: str, secret: str, region: str) -> None:
        self.access_key_id = access_key_id
        self.secret = secret
        self.region = region
        self.requests: list[tuple[str, dict[str, str], int]] = []
        self.changes: list[tuple[str, str, dict[str, str], Any, int]] = []
        self.quotas: dict[str, dict[str, Any]] = {}  # bucket: the quota the server holds for it
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                standin._serve(self, "GET")

            def do_PUT(self) -> None:
                standin._serve(self, "PUT")

            def do_POST(self) -> None:
                standin._serve(self, "POST")

            def log_message(self, *args: Any) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def calls(self, path: str) -> list[dict[str, str]]:
        """The query of every request to ``path`` this stand-in answered 200."""
        with self._lock:
            return [query for at, query, status in self.requests if at == path and status == 200]

    def quota_changes(self) -> list[tuple[str, Any]]:
        """The bucket (or id) and JSON body of every PUT or POST this stand-in answered 200."""
        with self._lock:
            return [
                (query.get("bucket") or query.get("id", ""), doc)
                for _, _, query, doc, st in self.changes
                if st == 200
            ]

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        query_pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = dict(query_pairs)
        headers = dict(handler.headers.items())
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        document: Any = None
        refusal = self.refusal(method, f"{self.url}{handler.path}", headers)
        if refusal is not None:
            status, body = 403, self.error(refusal, parts.path)
        elif len(query) != len(query_pairs):
            status, body = 400, self.error("InvalidArgument", parts.path)
        elif method == "GET":
            status, body = self.answer(parts.path, query)
        elif (mismatch := self.payload_refusal(headers, raw)) is not None:
            status, body = 400, self.error(mismatch, parts.path)
        else:
            try:
                document = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                document = raw.decode(errors="replace")
            status, body = self.change(method, parts.path, query, document)
        with self._lock:
            self.requests.append((parts.path, query, status))
            if method != "GET":
                self.changes.append((method, parts.path, query, document, status))
        data = b"" if body is None else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def refusal(self, method: str, url: str, headers: dict[str, str]) -> str | None:
        """Why the server refuses the request's credentials (SigV4 here), or None."""
        return sigv4_refusal(method, url, headers, self.access_key_id, self.secret, self.region)

    def payload_refusal(self, headers: dict[str, str], body: bytes) -> str | None:
        """A signed body must be the one whose SHA-256 the signature covers."""
        signed = {name.lower(): value for name, value in headers.items()}.get("x-amz-content-sha256")
        mismatch = signed is not None and signed != hashlib.sha256(body).hexdigest()
        return "XAmzContentSHA256Mismatch" if mismatch else None

    def change(self, method: str, path: str, query: dict[str, str], document: Any) -> tuple[int, Any]:
        return 405, self.error("MethodNotAllowed", path)

    def error(self, code: str, resource: str) -> dict[str, Any]:
        return {"Code": code, "RequestId": "tx0000standin", "HostId": "standin"}

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        raise NotImplementedError


def category(size: int, objects: int) -> dict[str, int]:
    """One category of RGW's ``usage``, as ``RGWStorageStats::dump`` writes it (Ceph
    ``src/rgw/rgw_common.cc``; the fields and their order as in Ceph's compression documentation's
    ``bucket stats`` example: size, size_actual rounded to 4 KiB per object, size_utilized, the
    ``_kb`` forms, num_objects)."""
    actual = -(-size // 4096) * 4096 if objects else 0
    return {
        "size": size,
        "size_actual": actual,
        "size_utilized": size,
        "size_kb": -(-size // 1024),
        "size_kb_actual": actual // 1024,
        "size_kb_utilized": -(-size // 1024),
        "num_objects": objects,
    }


class RgwStandIn(AdminStandIn):
    """Ceph RGW's admin ops API, Get Bucket Info (Ceph documentation, Admin Operations, "Get Bucket
    Info": ``GET /{admin}/bucket?format=json`` with ``bucket``, ``uid``, ``stats``; capability
    ``buckets=read``), as ``RGWBucketAdminOp::info`` answers it (Ceph
    ``src/rgw/driver/rados/rgw_bucket.cc``): with ``uid`` and no ``bucket``, a JSON list of every
    bucket the user owns (``list_owner_bucket_info``), each a ``bucket_stats`` object when
    ``stats`` is true; with ``bucket``, that bucket's object alone, or 404 ``NoSuchBucket``.

    ``buckets`` maps each bucket the user owns to its ``usage`` categories (``category``).

    Set Quota for an Individual Bucket (Admin Operations: ``PUT /{admin}/bucket?quota&uid=<uid>&
    bucket=<bucket-name>``, capability ``buckets=write``, "the content must include a JSON
    representation of the quota settings"): the body is read by ``RGWQuotaInfo::decode_json``
    (``src/rgw/rgw_common.cc``: ``max_size``, or ``max_size_kb`` from older writers,
    ``max_objects``, ``check_on_raw``, ``enabled``); the quota held is shown as Get Bucket Info's
    ``bucket_quota`` (``RGWQuotaInfo::dump``). Without ``buckets=write`` in ``caps``: 403
    ``AccessDenied``, as RGW refuses an operation its caps do not allow."""

    PATH = "/admin/bucket"
    QUOTA_FIELDS = frozenset({"enabled", "check_on_raw", "max_size", "max_size_kb", "max_objects"})

    def __init__(self, access_key_id: str, secret: str, region: str, uid: str) -> None:
        super().__init__(access_key_id, secret, region)
        self.uid = uid
        self.buckets: dict[str, dict[str, dict[str, int]]] = {}
        self.caps = {"buckets=read", "buckets=write"}

    def change(self, method: str, path: str, query: dict[str, str], document: Any) -> tuple[int, Any]:
        if method != "PUT" or path != self.PATH:
            return 405, self.error("MethodNotAllowed", path)
        if set(query) - {"format"} != {"quota", "uid", "bucket"} or query["quota"] != "":
            return 400, self.error("InvalidArgument", path)
        if "buckets=write" not in self.caps:
            return 403, self.error("AccessDenied", path)
        if query["uid"] != self.uid:
            return 404, self.error("NoSuchUser", path)
        if query["bucket"] not in self.buckets:
            return 404, self.error("NoSuchBucket", path)
        if not (isinstance(document, dict) and set(document) <= self.QUOTA_FIELDS and document):
            return 400, self.error("InvalidArgument", path)
        numbers = [document[name] for name in ("max_size", "max_size_kb", "max_objects") if name in document]
        flags = [document[name] for name in ("enabled", "check_on_raw") if name in document]
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers) or not all(
            isinstance(flag, bool) for flag in flags
        ):
            return 400, self.error("InvalidArgument", path)
        held = {"enabled": False, "check_on_raw": False, "max_size": -1, "max_objects": -1}
        held |= {name: document[name] for name in held if name in document}
        if "max_size" not in document and "max_size_kb" in document:
            held["max_size"] = document["max_size_kb"] * 1024
        self.quotas[query["bucket"]] = held
        return 200, None  # RGW answers a quota set with no body

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if path != self.PATH:
            return 404, self.error("NoSuchKey", path)
        if query.get("format", "json") != "json" or query.get("stats") != "True":
            return 400, self.error("InvalidArgument", path)  # this stand-in serves stats only
        if set(query) == {"format", "stats", "uid"}:
            if query["uid"] != self.uid:
                return 404, self.error("NoSuchUser", path)
            return 200, [self.stats(name) for name in sorted(self.buckets)]
        if set(query) == {"bucket", "format", "stats"}:
            if query["bucket"] not in self.buckets:
                return 404, self.error("NoSuchBucket", path)
            return 200, self.stats(query["bucket"])
        return 400, self.error("InvalidArgument", path)

    def stats(self, name: str) -> dict[str, Any]:
        """``bucket_stats``: the fields in the order it writes them; ``usage`` by ``dump_bucket_usage``."""
        return {
            "bucket": name,
            "tenant": "",
            "versioning": "enabled",
            "zonegroup": "8a3a3d6e-1d3c-4b8e-9f4e-standin",
            "placement_rule": "default-placement",
            "explicit_placement": {"data_pool": "", "data_extra_pool": "", "index_pool": ""},
            "id": f"standin.{name}.1",
            "marker": f"standin.{name}.1",
            "index_type": "Normal",
            "index_generation": 0,
            "num_shards": 11,
            "reshard_status": "not-resharding",
            "judge_reshard_lock_time": "0.000000",
            "object_lock_enabled": False,
            "mfa_enabled": False,
            "owner": self.uid,
            "ver": "0#1",
            "master_ver": "0#0",
            "mtime": "2026-12-07T00:00:00.000000Z",
            "creation_time": "2026-12-07T00:00:00.000000Z",
            "max_marker": "0#",
            "usage": self.buckets[name],
            "bucket_quota": self.bucket_quota(name),
            "read_tracker": 0,
        }

    def bucket_quota(self, name: str) -> dict[str, Any]:
        """``RGWQuotaInfo::dump`` of the quota held: enabled, check_on_raw, max_size, its KiB, max_objects."""
        held = self.quotas.get(
            name, {"enabled": False, "check_on_raw": False, "max_size": -1, "max_objects": -1}
        )
        size = held["max_size"]
        return {
            "enabled": held["enabled"],
            "check_on_raw": held["check_on_raw"],
            "max_size": size,
            "max_size_kb": -(-size // 1024) if size > 0 else 0,
            "max_objects": held["max_objects"],
        }


class MinioStandIn(AdminStandIn):
    """MinIO's admin API data usage: ``GET /minio/admin/v3/datausageinfo?capacity=true``, as
    madmin-go's ``AdminClient.DataUsageInfo`` asks it, answering madmin-go's ``DataUsageInfo`` with a
    ``BucketUsageInfo`` per bucket (minio/madmin-go ``info-commands.go``). MinIO's admin errors
    are JSON (madmin-go's ``ErrorResponse``: Code, Message, BucketName, Key, RequestId, HostId).

    ``buckets`` maps each bucket the scanner has reached to (size, objects, versions, delete markers).

    The bucket quota: ``PUT /minio/admin/v3/set-bucket-quota?bucket=NAME`` with the JSON of madmin-go's
    ``BucketQuota`` (``quota-commands.go``: ``size``, ``rate``, ``requests``, ``quotatype``, whose one
    valid value is ``hard``; the older ``quota`` field for the size); a size of 0 disables it, and
    the stand-in then holds none."""

    PATH = "/minio/admin/v3/datausageinfo"
    QUOTA_PATH = "/minio/admin/v3/set-bucket-quota"
    QUOTA_FIELDS = frozenset({"quota", "size", "rate", "requests", "quotatype"})

    def __init__(self, access_key_id: str, secret: str, region: str) -> None:
        super().__init__(access_key_id, secret, region)
        self.buckets: dict[str, tuple[int, int, int, int]] = {}

    def error(self, code: str, resource: str) -> dict[str, Any]:
        return {"Code": code, "Message": code, "Resource": resource, "RequestId": "standin", "HostId": ""}

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if path != self.PATH:
            return 404, self.error("NotFound", path)  # the stand-in's own code: no other path is served
        if query != {"capacity": "true"}:
            return 400, self.error("InvalidArgument", path)
        usage = {name: self.bucket_usage(*figures) for name, figures in sorted(self.buckets.items())}
        return 200, {
            "lastUpdate": "2026-12-07T00:00:00Z",
            "objectsCount": sum(u["objectsCount"] for u in usage.values()),
            "objectsTotalSize": sum(u["size"] for u in usage.values()),
            "objectsPendingReplicationTotalSize": 0,
            "objectsFailedReplicationTotalSize": 0,
            "objectsReplicatedTotalSize": 0,
            "objectsReplicaTotalSize": 0,
            "objectsPendingReplicationCount": 0,
            "objectsFailedReplicationCount": 0,
            "bucketsCount": len(usage),
            "bucketsUsageInfo": usage,
            "tierStats": {},
            "bucketsSizes": {name: u["size"] for name, u in usage.items()},
            "capacity": 1 << 40,
            "freeCapacity": 1 << 39,
            "usedCapacity": 1 << 39,
        }

    def change(self, method: str, path: str, query: dict[str, str], document: Any) -> tuple[int, Any]:
        if method != "PUT" or path != self.QUOTA_PATH:
            return 405, self.error("MethodNotAllowed", path)
        if set(query) != {"bucket"}:
            return 400, self.error("InvalidArgument", path)
        if not (isinstance(document, dict) and set(document) <= self.QUOTA_FIELDS):
            return 400, self.error("InvalidArgument", path)
        numbers = [document[name] for name in ("quota", "size", "rate", "requests") if name in document]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
            return 400, self.error("InvalidArgument", path)
        if document.get("quotatype", "hard") != "hard":
            return 400, self.error("InvalidArgument", path)
        size = document.get("size") or document.get("quota") or 0
        if size:
            self.quotas[query["bucket"]] = {"size": size, "quotatype": "hard"}
        else:
            self.quotas.pop(query["bucket"], None)
        return 200, None

    @staticmethod
    def bucket_usage(size: int, objects: int, versions: int, markers: int) -> dict[str, Any]:
        """madmin-go's ``BucketUsageInfo``, every field."""
        return {
            "size": size,
            "objectsPendingReplicationTotalSize": 0,
            "objectsFailedReplicationTotalSize": 0,
            "objectsReplicatedTotalSize": 0,
            "objectReplicaTotalSize": 0,
            "objectsPendingReplicationCount": 0,
            "objectsFailedReplicationCount": 0,
            "versionsCount": versions,
            "objectsCount": objects,
            "deleteMarkersCount": markers,
            "objectsSizesHistogram": {"LESS_THAN_1024_B": objects},
            "objectsVersionsHistogram": {"SINGLE_VERSION": objects},
        }


class GarageStandIn(AdminStandIn):
    """Garage's admin API v2, GetBucketInfo: ``GET /v2/GetBucketInfo?globalAlias=NAME`` (or ``id``,
    ``search``), ``Authorization: Bearer <admin_token>``, answering ``GetBucketInfoResponse``
    (Garage ``src/api/admin/api.rs``); errors as Garage's admin API writes them (``src/api/admin/
    error.rs``: ``{"code", "message", "path", "region"}``), 403 ``AccessDenied`` for another
    token, 404 ``NoSuchBucket`` for a bucket it does not have. No SigV4 here: Garage's admin API
    takes the bearer token only.

    ``buckets`` maps each bucket to (objects, bytes, unfinished upload parts, their bytes).

    UpdateBucket: ``POST /v2/UpdateBucket?id=ID`` with ``UpdateBucketRequestBody`` (``websiteAccess``,
    ``quotas``: ``ApiBucketQuotas``, ``maxSize`` and ``maxObjects``, each a number or null), answering
    the bucket's ``GetBucketInfoResponse``, whose ``quotas`` show what is held."""

    PATH = "/v2/GetBucketInfo"
    UPDATE_PATH = "/v2/UpdateBucket"

    def __init__(self, token: str) -> None:
        super().__init__("", "", "garage")
        self.token = token
        self.buckets: dict[str, tuple[int, int, int, int]] = {}

    def refusal(self, method: str, url: str, headers: dict[str, str]) -> str | None:
        given = {name.lower(): value for name, value in headers.items()}.get("authorization")
        return None if given == f"Bearer {self.token}" else "AccessDenied"

    def error(self, code: str, resource: str) -> dict[str, Any]:
        return {"code": code, "message": code, "path": resource, "region": "garage"}

    @staticmethod
    def bucket_id(name: str) -> str:
        return hashlib.sha256(name.encode()).hexdigest()  # Garage's ids: 32 bytes, hex

    def change(self, method: str, path: str, query: dict[str, str], document: Any) -> tuple[int, Any]:
        if method != "POST" or path != self.UPDATE_PATH:
            return 405, self.error("MethodNotAllowed", path)
        if set(query) != {"id"}:
            return 400, self.error("InvalidRequest", path)
        named = [name for name in self.buckets if self.bucket_id(name) == query["id"]]
        if not named:
            return 404, self.error("NoSuchBucket", path)
        if not (isinstance(document, dict) and set(document) <= {"websiteAccess", "quotas"}):
            return 400, self.error("InvalidRequest", path)
        quotas = document.get("quotas")
        if quotas is not None:
            if not (isinstance(quotas, dict) and set(quotas) <= {"maxSize", "maxObjects"}):
                return 400, self.error("InvalidRequest", path)
            if not all(
                v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0)
                for v in quotas.values()
            ):
                return 400, self.error("InvalidRequest", path)
            self.quotas[named[0]] = {"maxSize": quotas.get("maxSize"), "maxObjects": quotas.get("maxObjects")}
        return 200, self.info(named[0])

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if path != self.PATH:
            return 404, self.error("NoSuchKey", path)  # the stand-in's own code: no other path is served
        if set(query) != {"globalAlias"}:
            return 400, self.error("InvalidRequest", path)  # this stand-in serves globalAlias only
        name = query["globalAlias"]
        if name not in self.buckets:
            return 404, self.error("NoSuchBucket", path)
        return 200, self.info(name)

    def info(self, name: str) -> dict[str, Any]:
        objects, size, parts, part_bytes = self.buckets[name]
        return {
            "id": self.bucket_id(name),
            "created": "2026-12-07T00:00:00Z",
            "globalAliases": [name],
            "websiteAccess": False,
            "websiteConfig": None,
            "keys": [],
            "objects": objects,
            "bytes": size,
            "unfinishedUploads": 1 if parts else 0,
            "unfinishedMultipartUploads": 1 if parts else 0,
            "unfinishedMultipartUploadParts": parts,
            "unfinishedMultipartUploadBytes": part_bytes,
            "quotas": self.quotas.get(name, {"maxSize": None, "maxObjects": None}),
        }
