"""One call of a server's admin API, sent with httpx: signed as S3 is (AWS Signature Version 4) for
RGW and MinIO (``signed``, ``signed_get``), with Garage's bearer token for Garage (``answer_of``).

RGW's admin ops API "duplicates the S3 authorization mechanism" (Ceph, Admin Operations) and
MinIO's admin API is signed as its S3 API is (madmin-go signs each request with SigV4, service
``s3``), so one signer serves both: botocore's, with the key and region name the provider's S3
calls use. Its faults become ``ProviderError`` as the S3 calls' do: no connection or no answer in
time is transient (``Unreachable``, ``Timeout``: the pools then skip the provider a while), 429 and
5xx are transient, a refused key is permanent with the server's own code.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from loopback.providers.base import ProviderError, ProviderSetup, RegionSpec
from loopback.providers.s3 import CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS

XML_CODE = re.compile(r"<Code>([^<]+)</Code>")


@dataclass(frozen=True)
class AdminKey:
    """The key an admin call is signed with, and where the admin API is (default: the S3 endpoint)."""

    access_key_id: str
    secret_access_key: str
    endpoint: str | None = None

    def __repr__(self) -> str:
        return f"AdminKey(access_key_id={self.access_key_id!r}, endpoint={self.endpoint!r})"

    def url(self, spec: RegionSpec, path: str, query: list[tuple[str, str]]) -> str:
        base = (self.endpoint or spec.endpoint).rstrip("/")
        return f"{base}{path}?{urlencode(sorted(query))}"


def required(setup: ProviderSetup, name: str, why: str) -> str:
    """The setting ``name`` the provider's ``admin_api`` cannot do without, or a ``ValueError``."""
    value = setup.settings.get(name)
    if not isinstance(value, str) or not value:
        variant = setup.settings.get("admin_api")
        raise ValueError(f"provider {setup.name}: admin_api {variant} needs settings.{name}, {why}")
    return value


def admin_key(setup: ProviderSetup) -> AdminKey:
    """The provider's service key, and ``settings.admin_endpoint`` where the admin API is elsewhere."""
    if not setup.access_key_id or not setup.secret_access_key:
        raise ValueError(f"provider {setup.name} has no service credentials")
    endpoint = setup.settings.get("admin_endpoint")
    return AdminKey(setup.access_key_id, setup.secret_access_key, str(endpoint) if endpoint else None)


def signed_get(key: AdminKey, spec: RegionSpec, path: str, query: list[tuple[str, str]], action: str) -> Any:
    """GET ``path?query`` of the region's admin API, signed with ``key``; answers the JSON body."""
    return signed(key, spec, "GET", path, query, action)


def signed(
    key: AdminKey,
    spec: RegionSpec,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    action: str,
    document: Any = None,
) -> Any:
    """``method path?query`` of the region's admin API with ``document`` as its JSON body, signed
    with ``key`` over the body's SHA-256 as S3 signs a payload; answers the JSON body (None for an
    empty one)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = key.url(spec, path, query)
    body = b"" if document is None else json.dumps(document).encode()
    headers = {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
    if body:
        headers["Content-Type"] = "application/json"
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "s3", spec.code).add_auth(request)
    return answer_of(url, dict(request.headers.items()), action, method, body)


def answer_of(url: str, headers: dict[str, str], action: str, method: str = "GET", body: bytes = b"") -> Any:
    """``method url`` with ``headers`` and ``body``; the JSON body of a 200 (None for an empty
    one), a ``ProviderError`` for anything else."""
    timeout = httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)
    try:
        response = httpx.request(method, url, headers=headers, content=body or None, timeout=timeout)
    except httpx.ConnectError as error:
        raise ProviderError(
            f"{action}: provider unreachable: {error}", transient=True, code="Unreachable"
        ) from error
    except httpx.TimeoutException as error:
        raise ProviderError(
            f"{action}: provider unreachable: {error}", transient=True, code="Timeout"
        ) from error
    except httpx.HTTPError as error:
        raise ProviderError(f"{action}: {error}", transient=True, code="Unreachable") from error
    if response.status_code != 200:
        code = error_code(response)
        transient = response.status_code == 429 or response.status_code >= 500
        raise ProviderError(f"{action}: HTTP {response.status_code}: {code}", transient=transient, code=code)
    if not response.content:
        return None
    try:
        return response.json()
    except json.JSONDecodeError as error:
        raise ProviderError(f"{action}: the answer is not JSON", transient=False, code="BadAnswer") from error


def error_code(response: httpx.Response) -> str:
    """The server's error code (``Code`` of its JSON or XML error body, Garage's ``code``), else
    ``HTTP<status>``."""
    try:
        body = response.json()
    except json.JSONDecodeError:
        found = XML_CODE.search(response.text)
        return found.group(1) if found else f"HTTP{response.status_code}"
    code = (body.get("Code") or body.get("code")) if isinstance(body, dict) else None
    return str(code) if code else f"HTTP{response.status_code}"


def count(value: object) -> int:
    """A figure of an answer: a non-negative integer, or 0 where the server left it out."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
