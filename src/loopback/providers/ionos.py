"""Family ``ionos``: IONOS Object Storage, with keys issued per tenant through IONOS's own APIs.

IONOS has no IAM API in S3's dialect. Buckets are made through S3 with the operator's IONOS key
(``setup.access_key_id``/``secret_access_key``; the ``s3`` family's code, composed); keys come from
one of IONOS's two key APIs, chosen by ``settings["key_api"]``:

- ``cloud`` (the default), the Cloud API (``https://api.ionos.com/cloudapi/v6``, Bearer token):
  one IONOS user per tenant scope (a project; an organization with ``isolation: organization``),
  found by a deterministic e-mail address through ``GET /um/users`` or made with
  ``POST /um/users``, and its keys through ``/um/users/{userId}/s3keys``. IONOS documents that
  "a maximum of five keys per user can be generated", so a tenant holds at most five keys here.
- ``management``, the Object Storage Management API (``https://s3.ionos.com``, Bearer token only):
  ``POST /accesskeys`` makes a key *of the token's own user*, ``metadata.status`` goes from
  ``PROVISIONING`` to ``AVAILABLE``, ``DELETE /accesskeys/{id}`` answers 202. Every key made this
  way belongs to the same IONOS user, so IONOS cannot keep tenants apart: see ``capabilities``.

A key of a fresh IONOS user reaches nothing (such a user owns no bucket); each issued credential
adds to its bucket's policy one statement, per principal, that lets that user read, write, list
and delete the bucket's objects. IONOS names principals two ways (docs.ionos.com, Object Storage,
Bucket Policy examples): ``{"CanonicalUser": ["<canonical user id>"]}`` for user-owned buckets
and ``{"AWS": ["arn:aws:iam:::user/<contract user id>"]}`` for contract-owned ones, where the
contract user id "consists of contract number and user ID" (IONOS, Retrieve User IDs; written
``<contract number>:<user UUID>`` in published examples). Policies may be 20 KB (user-owned) or
1 MB (contract-owned) large.

The isolation unit is therefore the tenant, not the bucket: a tenant's key reaches every bucket of
that tenant for which a key was issued, and no bucket of another tenant.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import httpx

from loopback.providers.base import (
    Access,
    Capabilities,
    Grant,
    IssuedCredential,
    Placement,
    ProviderError,
    ProviderSetup,
    RegionSpec,
    StorageProvider,
    Usage,
)
from loopback.providers.s3 import S3Provider, S3ProviderConfig, guard_botocore_logs

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CreateBucketConfigurationTypeDef

FAMILY = "ionos"

MANAGEMENT_URL = "https://s3.ionos.com"  # Object Storage Management API, api.ionos.com/docs/s3-management/v1
CLOUD_URL = "https://api.ionos.com/cloudapi/v6"  # Cloud API v6, api.ionos.com/docs/cloud/v6
KEY_APIS = ("cloud", "management")
ISOLATION_SCOPES = ("project", "organization")

MAX_KEYS_PER_USER = 5  # Cloud API, POST /um/users/{userId}/s3keys: "A maximum of five keys per user"
MAX_BUCKETS_PER_USER = 500  # IONOS Object Storage limits: up to 500 buckets per user

Ownership = Literal["user", "contract"]


@dataclass(frozen=True)
class IonosRegion:
    """An IONOS Object Storage region: where it is, which bucket type it holds, its S3 host."""

    code: str
    city: str
    country: str  # ISO 3166-1 alpha-2
    ownership: Ownership
    host: str

    @property
    def endpoint(self) -> str:
        return f"https://{self.host}"

    @property
    def display_name(self) -> str:
        return f"{self.city} ({self.ownership}-owned buckets)"

    def spec(self, endpoint: str | None = None) -> RegionSpec:
        return RegionSpec(self.code, self.display_name, endpoint or self.endpoint)


# IONOS Object Storage endpoints (docs.ionos.com, Object Storage, Endpoints). The user-owned region
# "de" signs as "de" but is served from s3.eu-central-1; eu-central-4 is listed by IONOS's own
# Terraform provider (ionos-cloud/terraform-provider-ionoscloud), not yet on the endpoints page.
IONOS_REGIONS: tuple[IonosRegion, ...] = (
    IonosRegion("de", "Frankfurt", "DE", "user", "s3.eu-central-1.ionoscloud.com"),
    IonosRegion("eu-central-2", "Berlin", "DE", "user", "s3.eu-central-2.ionoscloud.com"),
    IonosRegion("eu-south-2", "Logroño", "ES", "user", "s3.eu-south-2.ionoscloud.com"),
    IonosRegion("eu-central-3", "Berlin", "DE", "contract", "s3.eu-central-3.ionoscloud.com"),
    IonosRegion("eu-central-4", "Frankfurt", "DE", "contract", "s3.eu-central-4.ionoscloud.com"),
    IonosRegion("us-central-1", "Lenexa", "US", "contract", "s3.us-central-1.ionoscloud.com"),
)
REGIONS: tuple[RegionSpec, ...] = tuple(region.spec() for region in IONOS_REGIONS)
COUNTRIES: dict[str, str] = {region.code: region.country for region in IONOS_REGIONS}
OWNERSHIP: dict[str, Ownership] = {region.code: region.ownership for region in IONOS_REGIONS}

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

# --- naming ------------------------------------------------------------------------------------

_IONOS_ALLOWED = re.compile(r"^[a-z0-9.-]+$")
_IP_LIKE = re.compile(r"^\d+(\.\d+){3}$")
# Not checkable here, stated so operators and tenants know: IONOS refuses the name at creation.
NAME_NOTES: tuple[str, ...] = (
    "bucket names are unique across all of IONOS, not only this account: a name another IONOS "
    "customer holds is refused when the bucket is created (BucketAlreadyExists)",
)


def ionos_name_problems(name: str) -> list[str]:
    """IONOS's bucket naming rules (docs.ionos.com, Object Storage, Bucket naming rules).

    3 to 63 characters; lowercase letters, digits, dots and hyphens only (so no underscore and no
    capital); starting with a letter or digit and not ending with a dot or hyphen; no two periods
    in a row and no hyphen next to a period; nothing that looks like an IPv4 address. These mostly
    repeat S3's rules, which are checked first; the IP rule is wider than S3's (any four dotted
    numbers, ``999.1.1.1`` too). Global uniqueness is ``NAME_NOTES``'s, not checkable here.
    """
    problems: list[str] = []
    if not 3 <= len(name) <= 63:
        problems.append(f"IONOS: must be 3 to 63 characters long, not {len(name)}")
    if not _IONOS_ALLOWED.match(name):
        problems.append("IONOS: may hold only lowercase letters, digits, dots and hyphens (no underscore)")
    if name and not name[0].isalnum():
        problems.append("IONOS: must start with a lowercase letter or a digit")
    if name.endswith((".", "-")):
        problems.append("IONOS: must not end with a dot or a hyphen")
    if ".." in name:
        problems.append("IONOS: must not hold two periods in a row")
    if ".-" in name or "-." in name:
        problems.append("IONOS: must not put a hyphen next to a period")
    if _IP_LIKE.match(name):
        problems.append("IONOS: must not look like an IP address")
    return problems


# --- bucket policies ---------------------------------------------------------------------------


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


def grant_statement(bucket: str, principal: Mapping[str, list[str]]) -> dict[str, Any]:
    return {
        "Sid": statement_id(principal),
        "Effect": "Allow",
        "Principal": dict(principal),
        "Action": list(GRANTED_ACTIONS),
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }


def merged_policy(existing: str | None, bucket: str, principal: Mapping[str, list[str]]) -> dict[str, Any]:
    """``existing`` with this principal's statement added or replaced; every other statement kept."""
    try:
        policy: dict[str, Any] = json.loads(existing) if existing else {}
    except ValueError:
        raise ProviderError(
            f"grant access: the policy of bucket {bucket} is not JSON; fix or delete it",
            transient=False,
            code="MalformedPolicy",
        ) from None
    if not isinstance(policy, dict):
        raise ProviderError(
            f"grant access: the policy of bucket {bucket} is not a JSON object; fix or delete it",
            transient=False,
            code="MalformedPolicy",
        )
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    sid = statement_id(principal)
    kept = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") == sid)]
    return {
        **policy,
        "Version": policy.get("Version", "2012-10-17"),
        "Statement": [*kept, grant_statement(bucket, principal)],
    }


# --- IONOS's JSON APIs -------------------------------------------------------------------------


def _ionos_message(response: httpx.Response) -> tuple[str | None, str]:
    """``messages[0]`` of IONOS's error body ``{"httpStatus", "messages": [{"errorCode", "message"}]}``."""
    try:
        first = response.json()["messages"][0]
        code, message = first.get("errorCode"), str(first["message"])
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None, response.reason_phrase or f"HTTP {response.status_code}"
    return (None if code is None else str(code)), message


class IonosApi:
    """One of IONOS's JSON APIs, with the token as ``Authorization: Bearer``; errors as ProviderError.

    429, 5xx and network faults are transient, every other refusal permanent with IONOS's own
    ``messages[0].message``. Requests are retried a little on 429 (IONOS's documented throttling
    answer) and on connection failures; reads and deletes also on 502/503/504. A POST is never
    repeated after the server may have acted on it, so no second key is made by a retry.
    """

    RETRY_READ = frozenset({429, 502, 503, 504})
    RETRY_WRITE = frozenset({429})

    def __init__(
        self,
        provider: str,
        label: str,
        base_url: str,
        token: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self._provider = provider
        self.label = label
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        )
        self._attempts = max(1, attempts)
        self._backoff = backoff

    def close(self) -> None:
        self._client.close()

    def call(
        self,
        action: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        tolerate: frozenset[int] = frozenset(),
    ) -> Any:
        """The response's JSON (``None`` when empty, or when its status is in ``tolerate``)."""
        retry_on = self.RETRY_WRITE if method in {"POST", "PUT"} else self.RETRY_READ
        for attempt in range(1, self._attempts + 1):
            last = attempt == self._attempts
            try:
                response = self._client.request(
                    method, path, params=dict(params or {}), json=body if body is not None else None
                )
            except httpx.ConnectError as error:  # nothing reached IONOS: safe to repeat
                if not last:
                    self._pause(attempt, None)
                    continue
                raise self._unreachable(action, error) from error
            except httpx.TransportError as error:  # it may have acted: never repeated
                raise self._unreachable(action, error) from error
            if response.status_code in tolerate:
                return None
            if response.is_success:
                return response.json() if response.content else None
            if response.status_code in retry_on and not last:
                self._pause(attempt, response.headers.get("Retry-After"))
                continue
            raise self._refusal(action, response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, attempt: int, retry_after: str | None) -> None:
        delay = self._backoff * attempt
        if retry_after and retry_after.isdigit():
            delay = min(float(retry_after), 5.0)
        time.sleep(delay)

    def _unreachable(self, action: str, error: Exception) -> ProviderError:
        return ProviderError(
            f"{action}: the IONOS {self.label} is unreachable: {type(error).__name__}",
            transient=True,
            code="Unreachable",
        )

    def _refusal(self, action: str, response: httpx.Response) -> ProviderError:
        code, message = _ionos_message(response)
        status = response.status_code
        return ProviderError(
            f"{action}: the IONOS {self.label} answered {status}: {message}",
            transient=status == 429 or status >= 500,
            code=code or f"HTTP{status}",
        )


# --- the S3 side -------------------------------------------------------------------------------


class _IonosS3(S3Provider):
    """The ``s3`` family's bucket work with the operator's IONOS key, plus what IONOS adds to it."""

    family = FAMILY

    def create_bucket(self, bucket: str, region: str, placement: Placement) -> None:
        s3 = self._s3(region)
        # IONOS's region codes ("de") are not in boto3's list of AWS regions, hence the cast.
        configuration = cast("CreateBucketConfigurationTypeDef", {"LocationConstraint": region})
        try:
            self._call(
                "create bucket",
                lambda: s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=configuration),
                tolerate=frozenset({"BucketAlreadyOwnedByYou"}),
            )
        except ProviderError as error:
            if error.code == "TooManyBuckets":
                raise ProviderError(
                    f"create bucket: IONOS allows at most {MAX_BUCKETS_PER_USER} buckets per user, and the "
                    f"IONOS user whose key provider {self.name} creates buckets with holds that many "
                    f"({error.message})",
                    transient=False,
                    code="TooManyBuckets",
                ) from error
            if error.code == "BucketAlreadyExists":
                raise ProviderError(
                    f"create bucket: the name {bucket!r} is taken; bucket names are unique across all "
                    f"of IONOS ({error.message})",
                    transient=False,
                    code="BucketAlreadyExists",
                ) from error
            raise

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


# --- the provider ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TenantUser:
    user_id: str
    email: str


CLOUD_USER_PREFIX = "cloud:"
MANAGEMENT_USER_PREFIX = "management:"
_DIGEST_MARK = "sha256:"
_PROVIDER_USER_MAX = 128  # credentials.provider_user


class IonosProvider:
    """IONOS Object Storage: buckets with the operator's S3 key, keys through IONOS's key APIs."""

    family = FAMILY

    def __init__(
        self,
        name: str,
        *,
        access_key_id: str,
        secret_access_key: str,
        api_token: str,
        key_api: str = "cloud",
        endpoints: Mapping[str, str] | None = None,
        management_url: str = MANAGEMENT_URL,
        cloud_url: str = CLOUD_URL,
        user_domain: str | None = None,
        contract_number: str | None = None,
        group_id: str | None = None,
        isolation: str = "project",
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        key_poll_interval: float = 1.0,
        key_poll_timeout: float = 60.0,
    ) -> None:
        guard_botocore_logs()
        overrides = dict(endpoints or {})
        unknown = sorted(set(overrides) - set(OWNERSHIP))
        if unknown:
            raise ValueError(
                f"provider {name}: endpoint overrides name unknown IONOS regions {unknown}; "
                f"known are {sorted(OWNERSHIP)}"
            )
        if key_api not in KEY_APIS:
            raise ValueError(
                f"provider {name}: settings.key_api is {key_api!r}; it must be one of {list(KEY_APIS)}"
            )
        if isolation not in ISOLATION_SCOPES:
            raise ValueError(
                f"provider {name}: settings.isolation is {isolation!r}; "
                f"it must be one of {list(ISOLATION_SCOPES)}"
            )
        if key_api == "cloud" and not user_domain:
            raise ValueError(
                f"provider {name}: settings.user_domain is needed with key_api cloud: each tenant's "
                "IONOS user is made with the address lb-<tenant id>@<user_domain>"
            )
        self.name = name
        self._key_api = key_api
        self._isolation = isolation
        self._user_domain = (user_domain or "").lower()
        self._contract_number = contract_number
        self._group_id = group_id
        self._poll = (key_poll_interval, key_poll_timeout)
        self._regions = tuple(region.spec(overrides.get(region.code)) for region in IONOS_REGIONS)
        self._storage = _IonosS3(
            S3ProviderConfig(
                name=name,
                regions=self._regions,
                access_key_id=access_key_id,
                secret_access_key=secret_access_key,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
            )
        )
        label, base_url = (
            ("Cloud API", cloud_url)
            if key_api == "cloud"
            else ("Object Storage Management API", management_url)
        )
        self._api = IonosApi(
            name, label, base_url, api_token, connect_timeout=connect_timeout, read_timeout=read_timeout
        )
        self._user_lock = threading.Lock()

    # --- the contract's simple parts ---------------------------------------------------------

    def regions(self) -> list[RegionSpec]:
        return list(self._regions)

    def capabilities(self) -> Capabilities:
        keys: tuple[str, ...]
        if self._key_api == "cloud":
            keys = (
                "keys are per tenant, not per bucket: each tenant has one IONOS user (made through the "
                "Cloud API), every credential is a key of that user, and each bucket's policy grants "
                "that user its objects; so a key reaches every bucket of its tenant that a key was "
                "issued for, never another tenant's",
                f"IONOS allows at most {MAX_KEYS_PER_USER} keys per user: a tenant can hold at most "
                f"{MAX_KEYS_PER_USER} active credentials at this provider; a sixth is refused",
            )
        else:
            keys = (
                "no isolation between tenants: the Object Storage Management API makes keys of the API "
                "token's own IONOS user only, so every key reaches every bucket any key was issued for; "
                "use key_api management only with a token whose user serves a single tenant",
                f"that user holds at most {MAX_KEYS_PER_USER} keys, so at most {MAX_KEYS_PER_USER} "
                "credentials exist at this provider at a time",
            )
        return Capabilities(
            per_bucket_credentials=False,
            native_usage_stats=False,
            regions_fixed=True,
            access_modes=(Access.READ_WRITE,),
            prefixes=False,
            narrowable=False,
            limits_reason=(
                "ionos keys of one tenant are keys of one IONOS user, and a bucket policy grants that "
                "user, not a key: every key of the tenant gets the same object access to each granted "
                "bucket, so a mode, a prefix or a removed bucket cannot be held to one key"
            ),
            notes=(
                *keys,
                "revoking deletes the key at IONOS at once; the bucket policy statement for the "
                "tenant's user stays until the bucket is deleted",
                f"IONOS allows at most {MAX_BUCKETS_PER_USER} buckets per user; every bucket of this "
                "provider is made with the operator's key, so that is this provider's limit",
                *NAME_NOTES,
            ),
        )

    def name_problems(self, bucket: str, region: str) -> list[str]:
        return ionos_name_problems(bucket)

    def slots(self) -> tuple[str, ...]:
        return ()

    def create_bucket(self, bucket: str, region: str, placement: Placement) -> None:
        self._storage.create_bucket(bucket, region, placement)

    def bucket_exists(self, bucket: str, region: str, placement: Placement) -> bool:
        return self._storage.bucket_exists(bucket, region, placement)

    def object_count_hint(self, bucket: str, region: str, limit: int, placement: Placement) -> int:
        return self._storage.object_count_hint(bucket, region, limit, placement)

    def empty_bucket(self, bucket: str, region: str, placement: Placement) -> int:
        return self._storage.empty_bucket(bucket, region, placement)

    def delete_bucket(self, bucket: str, region: str, placement: Placement) -> None:
        self._storage.delete_bucket(bucket, region, placement)

    def read_usage(self, bucket: str, region: str, placement: Placement) -> Usage:
        return self._storage.read_usage(bucket, region, placement)

    def check(self) -> None:
        """One S3 call with the operator's key, and one read with the API token."""
        self._storage.check()
        if self._key_api == "cloud":
            self._api.call("list users", "GET", "/um/users", params={"depth": 0, "limit": 1})
        else:
            self._api.call("list access keys", "GET", "/accesskeys", params={"limit": 1})

    # --- credentials -------------------------------------------------------------------------

    def issue_credential(
        self, region: str, user_name: str, grants: Sequence[Grant], placement: Placement
    ) -> IssuedCredential:
        """A new key of the tenant's IONOS identity, and a policy statement on each granted bucket.

        The statement is merged into the bucket's policy (one per principal, its Sid derived from
        the principal), so other tenants' or the operator's statements stay. A key made before a
        later step fails is deleted again.
        """
        ownership = self._ownership(region)
        buckets = [grant.bucket for grant in grants]
        if self._key_api == "cloud":
            return self._issue_cloud(buckets, region, ownership, placement)
        return self._issue_management(buckets, region, ownership, user_name, placement)

    def update_credential(
        self, region: str, provider_user: str, grants: Sequence[Grant], placement: Placement
    ) -> None:
        """Grant the key's IONOS user each bucket of ``grants`` (statements already there stay).

        Removing a bucket cannot be held to one key (``narrowable`` is false): the credential
        service refuses it before this is called.
        """
        ownership = self._ownership(region)
        principal = self._principal_of(provider_user, ownership)
        for grant in grants:
            self._grant(grant.bucket, region, ownership, principal)

    def revoke_credential(self, region: str, provider_user: str, placement: Placement) -> None:
        """Delete the key at IONOS; a key (or user) already gone is success.

        The bucket policy statement for the tenant's identity is left in place: it names the
        identity, not the key, other keys of the same tenant may rely on it, and the caller does
        not say which bucket the key was for. It goes with the bucket.
        """
        if provider_user.startswith(MANAGEMENT_USER_PREFIX):
            key_id = provider_user.removeprefix(MANAGEMENT_USER_PREFIX)
            api = self._management_api()
            api.call("delete access key", "DELETE", f"/accesskeys/{key_id}", tolerate=frozenset({404}))
            return
        if provider_user.startswith(CLOUD_USER_PREFIX):
            user_id, _, key_ref = provider_user.removeprefix(CLOUD_USER_PREFIX).partition(":")
            api = self._cloud_api()
            found = (
                self._key_by_digest(user_id, key_ref.removeprefix(_DIGEST_MARK))
                if key_ref.startswith(_DIGEST_MARK)
                else key_ref
            )
            if found is None:
                return
            api.call(
                "delete object storage key",
                "DELETE",
                f"/um/users/{user_id}/s3keys/{found}",
                tolerate=frozenset({404}),
            )
            return
        raise ProviderError(
            f"provider {self.name}: credential identity {provider_user!r} was not issued by the ionos family",
            transient=False,
            code="UnknownIdentity",
        )

    def _cloud_principal(self, user_id: str, ownership: Ownership) -> dict[str, list[str]]:
        """The bucket-policy principal of a tenant's IONOS user (Cloud API)."""
        if ownership == "contract":
            return principal_for(
                "contract", canonical_user_id="", contract_user_id=f"{self._contract_number}:{user_id}"
            )
        details = self._api.call("read user", "GET", f"/um/users/{user_id}", params={"depth": 1})
        canonical = str((details or {}).get("properties", {}).get("s3CanonicalUserId") or "")
        if not canonical:
            raise ProviderError(
                f"read user: IONOS has no canonical user id for user {user_id} yet",
                transient=True,
                code="NoCanonicalUserId",
            )
        return principal_for("user", canonical_user_id=canonical, contract_user_id="")

    def _principal_of(self, provider_user: str, ownership: Ownership) -> dict[str, list[str]]:
        """The principal an issued key's statements name, from its ``provider_user``."""
        if provider_user.startswith(CLOUD_USER_PREFIX):
            self._cloud_api()
            user_id = provider_user.removeprefix(CLOUD_USER_PREFIX).partition(":")[0]
            return self._cloud_principal(user_id, ownership)
        if provider_user.startswith(MANAGEMENT_USER_PREFIX):
            key_id = provider_user.removeprefix(MANAGEMENT_USER_PREFIX)
            key = dict(self._management_api().call("read access key", "GET", f"/accesskeys/{key_id}") or {})
            field = "canonicalUserId" if ownership == "user" else "contractUserId"
            owner = str(key.get("properties", {}).get(field) or "")
            if not owner:
                raise ProviderError(
                    f"read access key: IONOS named no {field} for key {key_id}",
                    transient=False,
                    code="NoUserId",
                )
            return principal_for(ownership, canonical_user_id=owner, contract_user_id=owner)
        raise ProviderError(
            f"provider {self.name}: credential identity {provider_user!r} was not issued by the ionos family",
            transient=False,
            code="UnknownIdentity",
        )

    def _ownership(self, region: str) -> Ownership:
        try:
            return OWNERSHIP[region]
        except KeyError:
            raise ProviderError(
                f"provider {self.name} has no region {region}", transient=False, code="NoSuchRegion"
            ) from None

    def _cloud_api(self) -> IonosApi:
        if self._key_api != "cloud":
            raise ProviderError(
                f"provider {self.name}: this key was issued through the Cloud API, but the provider "
                "now uses key_api management; switch back to revoke it",
                transient=False,
                code="KeyApiChanged",
            )
        return self._api

    def _management_api(self) -> IonosApi:
        if self._key_api != "management":
            raise ProviderError(
                f"provider {self.name}: this key was issued through the Object Storage Management API, "
                "but the provider now uses key_api cloud; switch back to revoke it",
                transient=False,
                code="KeyApiChanged",
            )
        return self._api

    def _grant(self, bucket: str, region: str, ownership: Ownership, principal: dict[str, list[str]]) -> None:
        existing = self._storage.bucket_policy(bucket, region)
        document = json.dumps(merged_policy(existing, bucket, principal), separators=(",", ":"))
        limit = POLICY_SIZE_LIMITS[ownership]
        if len(document.encode()) > limit:
            raise ProviderError(
                f"grant access: the policy of bucket {bucket} would be {len(document.encode())} bytes; "
                f"IONOS allows {limit} for {ownership}-owned buckets",
                transient=False,
                code="PolicyTooLarge",
            )
        self._storage.put_bucket_policy(bucket, region, document)

    # --- Cloud API: one IONOS user per tenant ------------------------------------------------

    def _tenant_email(self, placement: Placement) -> str:
        scope = placement.project_id if self._isolation == "project" else placement.organization_id
        return f"lb-{scope}@{self._user_domain}".lower()

    def _find_user(self, email: str) -> dict[str, Any] | None:
        offset, limit = 0, 100
        while True:
            page = self._api.call(
                "list users", "GET", "/um/users", params={"depth": 1, "offset": offset, "limit": limit}
            )
            items = list((page or {}).get("items", []))
            for item in items:
                if str(item.get("properties", {}).get("email", "")).lower() == email:
                    return dict(item)
            if len(items) < limit:
                return None
            offset += limit

    def _tenant_user(self, placement: Placement) -> _TenantUser:
        """The tenant's IONOS user, made on first use with a strong password that nobody keeps."""
        email = self._tenant_email(placement)
        with self._user_lock:  # two credentials at once for a new tenant make one user
            found = self._find_user(email)
            if found is None:
                body = {
                    "properties": {
                        "firstname": "Loopback",
                        "lastname": placement.project_id
                        if self._isolation == "project"
                        else placement.organization_id,
                        "email": email,
                        # never stored nor logged: the user works with keys, nobody signs in as it
                        "password": f"{secrets.token_urlsafe(32)}-Lb9",
                        "administrator": False,
                        "forceSecAuth": False,
                        "active": True,
                    }
                }
                try:
                    found = self._api.call("create user", "POST", "/um/users", body=body)
                except ProviderError as error:
                    if error.transient:
                        raise
                    found = self._find_user(email)  # made meanwhile by another process
                    if found is None:
                        raise
                if not found or "id" not in found:
                    raise ProviderError(
                        "create user: the IONOS Cloud API answered without the user's id",
                        transient=True,
                        code="NoUserId",
                    )
            user = _TenantUser(str(found["id"]), email)
        if self._group_id:
            self._ensure_member(user)
        return user

    def _ensure_member(self, user: _TenantUser) -> None:
        """Put the user into the operator's group with the Use Object Storage privilege."""
        groups = self._api.call("list the user's groups", "GET", f"/um/users/{user.user_id}/groups")
        if any(str(group.get("id")) == self._group_id for group in (groups or {}).get("items", [])):
            return
        self._api.call(
            "add the user to the object storage group",
            "POST",
            f"/um/groups/{self._group_id}/users",
            body={"id": user.user_id},
        )

    def _keys_of(self, user_id: str) -> list[dict[str, Any]]:
        listing = self._api.call(
            "list object storage keys", "GET", f"/um/users/{user_id}/s3keys", params={"depth": 1}
        )
        return [dict(item) for item in (listing or {}).get("items", [])]

    def _key_by_digest(self, user_id: str, digest: str) -> str | None:
        listing = self._api.call(
            "list object storage keys",
            "GET",
            f"/um/users/{user_id}/s3keys",
            params={"depth": 1},
            tolerate=frozenset({404}),
        )
        for item in (listing or {}).get("items", []):
            if hashlib.sha256(str(item.get("id")).encode()).hexdigest()[:32] == digest:
                return str(item["id"])
        return None

    def _issue_cloud(
        self, buckets: Sequence[str], region: str, ownership: Ownership, placement: Placement
    ) -> IssuedCredential:
        if ownership == "contract" and not self._contract_number:
            raise ProviderError(
                f"provider {self.name}: settings.contract_number is needed for contract-owned regions "
                f"such as {region}: their bucket policies name users as <contract number>:<user id>",
                transient=False,
                code="NoContractNumber",
            )
        user = self._tenant_user(placement)
        held = self._keys_of(user.user_id)
        if len(held) >= MAX_KEYS_PER_USER:
            raise ProviderError(
                f"issue credential: IONOS allows at most {MAX_KEYS_PER_USER} object storage keys per user, "
                f"and this tenant's IONOS user ({user.email}) holds {len(held)}; revoke one of the "
                "tenant's credentials at this provider first",
                transient=False,
                code="KeyLimitExceeded",
            )
        created = self._api.call("create object storage key", "POST", f"/um/users/{user.user_id}/s3keys")
        key_id = str((created or {}).get("id") or "")
        secret = str((created or {}).get("properties", {}).get("secretKey") or "")
        if not key_id or not secret:
            raise ProviderError(
                "create object storage key: the IONOS Cloud API answered without the key",
                transient=True,
                code="NoKey",
            )
        provider_user = f"{CLOUD_USER_PREFIX}{user.user_id}:{key_id}"
        if len(provider_user) > _PROVIDER_USER_MAX:
            digest = hashlib.sha256(key_id.encode()).hexdigest()[:32]
            provider_user = f"{CLOUD_USER_PREFIX}{user.user_id}:{_DIGEST_MARK}{digest}"
        try:
            # IONOS assigns the canonical user id with the user's first key, so it is read now.
            principal = self._cloud_principal(user.user_id, ownership)
            for bucket in buckets:
                self._grant(bucket, region, ownership, principal)
        except ProviderError:
            with contextlib.suppress(ProviderError):  # no key without its grant is left behind
                self.revoke_credential(region, provider_user, placement)
            raise
        return IssuedCredential(provider_user=provider_user, access_key_id=key_id, secret_access_key=secret)

    # --- Object Storage Management API: keys of the token's user -----------------------------

    def _issue_management(
        self, buckets: Sequence[str], region: str, ownership: Ownership, user_name: str, placement: Placement
    ) -> IssuedCredential:
        description = (
            f"Loopback {user_name}: bucket{'s' if len(buckets) > 1 else ''} {', '.join(buckets)} of "
            f"{placement.organization_id}/{placement.project_id}"
        )
        created = self._api.call(
            "create access key",
            "POST",
            "/accesskeys",
            body={"metadata": {}, "properties": {"description": description[:255]}},
        )
        key_id = str((created or {}).get("id") or "")
        if not key_id:
            raise ProviderError(
                "create access key: the IONOS Object Storage Management API answered without an id",
                transient=True,
                code="NoKey",
            )
        provider_user = f"{MANAGEMENT_USER_PREFIX}{key_id}"
        try:
            ready = self._await_available(key_id)
            first = dict((created or {}).get("properties", {}))
            later = dict(ready.get("properties", {}))
            access_key = str(later.get("accessKey") or first.get("accessKey") or "")
            secret = str(first.get("secretKey") or later.get("secretKey") or "")
            if not access_key or not secret:
                raise ProviderError(
                    "create access key: IONOS answered without the key pair",
                    transient=True,
                    code="NoKey",
                )
            field = "canonicalUserId" if ownership == "user" else "contractUserId"
            owner = str(later.get(field) or first.get(field) or "")
            if not owner:
                raise ProviderError(
                    f"create access key: IONOS named no {field} for the key's owner",
                    transient=False,
                    code="NoUserId",
                )
            principal = principal_for(ownership, canonical_user_id=owner, contract_user_id=owner)
            for bucket in buckets:
                self._grant(bucket, region, ownership, principal)
        except ProviderError:
            with contextlib.suppress(ProviderError):
                self.revoke_credential(region, provider_user, placement)
            raise
        return IssuedCredential(
            provider_user=provider_user, access_key_id=access_key, secret_access_key=secret
        )

    def _await_available(self, key_id: str) -> dict[str, Any]:
        """Poll ``GET /accesskeys/{id}`` until ``metadata.status`` is ``AVAILABLE``, for a bounded time."""
        interval, timeout = self._poll
        deadline = time.monotonic() + timeout
        while True:
            key = dict(self._api.call("read access key", "GET", f"/accesskeys/{key_id}") or {})
            metadata = key.get("metadata", {})
            status = str(metadata.get("status", ""))
            if status == "AVAILABLE":
                return key
            if status == "FAILED":
                raise ProviderError(
                    "create access key: IONOS could not provision it: "
                    f"{metadata.get('statusMessage') or 'FAILED'}",
                    transient=False,
                    code="KeyFailed",
                )
            if time.monotonic() + interval > deadline:
                raise ProviderError(
                    f"create access key: still {status or 'not ready'} after {timeout:.0f} s",
                    transient=True,
                    code="KeyNotReady",
                )
            time.sleep(interval)


def _text(settings: Mapping[str, Any], key: str, name: str) -> str | None:
    value = settings.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError(f"provider {name}: settings.{key} must be a string")
    return str(value)


def _number(settings: Mapping[str, Any], key: str, name: str, default: float) -> float:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"provider {name}: settings.{key} must be a positive number")
    return float(value)


def build(setup: ProviderSetup) -> StorageProvider:
    """An ``IonosProvider`` from the record.

    ``access_key_id``/``secret_access_key``: the operator's IONOS S3 key, which makes the buckets.
    ``secrets["api_token"]``: the IONOS API token (``settings.secret_refs.api_token``).
    ``settings``: ``key_api`` (``cloud``/``management``), ``user_domain`` (cloud), ``contract_number``
    (cloud, contract-owned regions), ``group_id`` (a group with the Use Object Storage privilege),
    ``isolation``, ``endpoints`` (per-region overrides), ``management_url``, ``cloud_url``,
    ``key_poll_interval``, ``key_poll_timeout``.
    """
    settings = setup.settings
    if not setup.access_key_id or not setup.secret_access_key:
        raise ValueError(f"provider {setup.name} has no IONOS S3 key for bucket operations")
    token = setup.secrets.get("api_token")
    if not token:
        raise ValueError(
            f"provider {setup.name} has no IONOS API token: settings.secret_refs.api_token must name it"
        )
    endpoints: Any = settings.get("endpoints") or {}
    if not isinstance(endpoints, Mapping) or not all(
        isinstance(code, str) and isinstance(url, str) and url for code, url in endpoints.items()
    ):
        raise ValueError(f"provider {setup.name}: settings.endpoints must map region codes to URLs")
    return IonosProvider(
        setup.name,
        access_key_id=setup.access_key_id,
        secret_access_key=setup.secret_access_key,
        api_token=token,
        key_api=str(settings.get("key_api", "cloud")),
        endpoints=endpoints,
        management_url=_text(settings, "management_url", setup.name) or MANAGEMENT_URL,
        cloud_url=_text(settings, "cloud_url", setup.name) or CLOUD_URL,
        user_domain=_text(settings, "user_domain", setup.name),
        contract_number=_text(settings, "contract_number", setup.name),
        group_id=_text(settings, "group_id", setup.name),
        isolation=str(settings.get("isolation", "project")),
        key_poll_interval=_number(settings, "key_poll_interval", setup.name, 1.0),
        key_poll_timeout=_number(settings, "key_poll_timeout", setup.name, 60.0),
    )
