"""A local stand-in for IONOS's Object Storage Management API and Cloud API v6, for the ionos tests.

It answers only what IONOS documents, and checks every request against it:

- Management API (base ``https://s3.ionos.com``, here the server's root): ``GET/POST /accesskeys``,
  ``GET/PUT/DELETE /accesskeys/{accesskeyId}``; ``Authorization: Bearer`` only; POST/PUT bodies
  ``{"metadata": {}, "properties": {"description": "…"}}``; POST answers 201 with the key in
  ``PROVISIONING``, ``GET`` shows it ``AVAILABLE`` after ``provisioning_polls`` reads; DELETE 202
  with no body; list parameters ``offset``, ``limit``, ``filter.accesskeyId``.
- Cloud API (base ``https://api.ionos.com/cloudapi/v6``, here ``/cloudapi/v6``): ``GET/POST
  /um/users``, ``GET /um/users/{userId}``, ``GET /um/users/{userId}/groups``, ``POST
  /um/groups/{groupId}/users`` (body ``{"id": userId}``), ``GET/POST /um/users/{userId}/s3keys``
  (POST without a body; "a maximum of five keys per user"), ``GET/DELETE
  /um/users/{userId}/s3keys/{keyId}`` (DELETE 202 with ``Location``); ``depth``, ``pretty``,
  ``offset``, ``limit`` where documented. A user's ``s3CanonicalUserId`` appears with its first
  key, as IONOS documents.

Anything else is refused the way IONOS refuses, with its error body ``{"httpStatus": …,
"messages": [{"errorCode": …, "message": …}]}``: 401 without the expected Bearer token, 404 for an
unknown path or object, 405 for a method a path does not have, 422 for an unknown or missing body
field, a body where none belongs, or an undocumented query parameter. The *wording* of the
messages is the stand-in's own; the shape is IONOS's. Every request is recorded (``requests``).

Keys are real: each IONOS user is a SeaweedFS identity made through SeaweedFS's IAM API, with no
rights of its own (so, as at IONOS, its keys reach only what a bucket policy grants), and each
key a SeaweedFS access key of it. Canonical user ids are those identities' names (64 hex digits,
like IONOS's); a contract user id is ``<contract number>:<user id>``. ``seaweed_user`` maps either
back to the identity, so a test can restate an IONOS principal in SeaweedFS's dialect.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import boto3
from fastapi import FastAPI, Request, Response

from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from tests.live_server import LiveServer

CLOUD_PREFIX = "/cloudapi/v6"
MAX_KEYS_PER_USER = 5
USER_FIELDS = {
    "firstname",
    "lastname",
    "email",
    "password",
    "administrator",
    "forceSecAuth",
    "secAuthActive",
    "active",
}
USER_REQUIRED = {"firstname", "lastname", "email", "password"}
USER_BOOLEANS = {"administrator", "forceSecAuth", "secAuthActive", "active"}


@dataclass
class Seen:
    """One request as the stand-in received it; ``path`` is relative to the API's documented base."""

    api: str  # "management" or "cloud"
    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    body: Any  # the parsed JSON, or None when the request had no body
    status: int = 0


class Refusal(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or str(status)


@dataclass
class _User:
    id: str
    email: str
    firstname: str
    lastname: str
    administrator: bool
    force_sec_auth: bool
    active: bool
    created: str
    canonical: str | None = None  # assigned with the first key, as IONOS does
    keys: dict[str, str] = field(default_factory=dict)  # key id -> secret
    groups: set[str] = field(default_factory=set)


@dataclass
class _AccessKey:
    id: str
    description: str
    access_key: str
    secret_key: str
    created: str
    polls_left: int


@dataclass
class _Failure:
    status: int
    remaining: int
    api: str | None
    method: str | None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ionos_error(status: int, message: str, code: str | None = None) -> Response:
    body = {"httpStatus": status, "messages": [{"errorCode": code or str(status), "message": message}]}
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)


class IonosStandIn:
    """Both IONOS APIs on one local port; use as a context manager."""

    def __init__(
        self,
        seaweedfs: EmbeddedSeaweedFS,
        *,
        token: str = "ionos-test-token",
        contract_number: str = "31234567",
        provisioning_polls: int = 1,
    ) -> None:
        self.token = token
        self.contract_number = contract_number
        self.provisioning_polls = provisioning_polls
        self.group_id = str(uuid.uuid4())  # a group the operator gave the Use Object Storage privilege
        self.requests: list[Seen] = []
        self._iam = boto3.client(
            "iam",
            endpoint_url=seaweedfs.endpoint,
            aws_access_key_id=seaweedfs.identity.access_key_id,
            aws_secret_access_key=seaweedfs.identity.secret_access_key,
            region_name="us-east-1",
        )
        self._users: dict[str, _User] = {}
        self._access_keys: dict[str, _AccessKey] = {}
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()
        self._seaweed_users: set[str] = set()
        # The management token's own IONOS user: /accesskeys makes keys of this user.
        self.owner = _User(
            id=str(uuid.uuid4()),
            email="operator@example.test",
            firstname="Operator",
            lastname="Token",
            administrator=False,
            force_sec_auth=False,
            active=True,
            created=_now(),
        )
        app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
        app.add_api_route(
            "/{path:path}",
            self._handle,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            include_in_schema=False,
        )
        self._server = LiveServer(app)
        self.url = self._server.url
        self.management_url = self.url
        self.cloud_url = f"{self.url}{CLOUD_PREFIX}"
        key, user = r"/accesskeys/(?P<key>[^/]+)", r"/um/users/(?P<user>[^/]+)"
        shaped = {"depth", "pretty"}  # the Cloud API's documented query parameters on these calls
        self._routes: list[tuple[str, str, re.Pattern[str], set[str], Callable[..., Response]]] = [
            (api, method, re.compile(pattern), params, handler)
            for api, method, pattern, params, handler in [
                (
                    "management",
                    "GET",
                    r"/accesskeys",
                    {"offset", "limit", "filter.accesskeyId"},
                    self._list_keys,
                ),
                ("management", "POST", r"/accesskeys", set(), self._create_access_key),
                ("management", "GET", key, set(), self._get_access_key),
                ("management", "PUT", key, set(), self._put_access_key),
                ("management", "DELETE", key, set(), self._delete_access_key),
                ("cloud", "GET", r"/um/users", {*shaped, "offset", "limit"}, self._list_users),
                ("cloud", "POST", r"/um/users", shaped, self._create_user),
                ("cloud", "GET", user, shaped, self._get_user),
                ("cloud", "GET", f"{user}/groups", shaped, self._user_groups),
                ("cloud", "POST", r"/um/groups/(?P<group>[^/]+)/users", shaped, self._add_member),
                ("cloud", "GET", f"{user}/s3keys", shaped, self._list_s3keys),
                ("cloud", "POST", f"{user}/s3keys", shaped, self._create_s3key),
                ("cloud", "GET", f"{user}/s3keys/(?P<key>[^/]+)", shaped, self._get_s3key),
                ("cloud", "DELETE", f"{user}/s3keys/(?P<key>[^/]+)", shaped, self._delete_s3key),
            ]
        ]

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> IonosStandIn:
        self._server.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.stop()
        for name in list(self._seaweed_users):  # leave the session's SeaweedFS as it was
            try:
                for key in self._iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
                    self._iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
                self._iam.delete_user(UserName=name)
            except Exception:
                pass  # best effort: the session's SeaweedFS is a temporary one

    # --- for tests ---------------------------------------------------------------------------

    def fail(self, status: int, times: int = 1, *, api: str | None = None, method: str | None = None) -> None:
        """Answer the next ``times`` matching requests with ``status`` (IONOS's error body)."""
        with self._lock:
            self._failures.append(_Failure(status, times, api, method))

    def take(self) -> list[Seen]:
        """The requests recorded so far, forgetting them."""
        with self._lock:
            seen, self.requests = self.requests, []
        return seen

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        with self._lock:
            user = next((u for u in self._users.values() if u.email == email), None)
            return None if user is None else self._user_body(user, 1)

    def keys_of(self, user_id: str) -> list[str]:
        with self._lock:
            return sorted(self._users[user_id].keys)

    def access_key_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._access_keys)

    def seaweed_user(self, principal: str) -> str:
        """The SeaweedFS identity behind an IONOS principal value (canonical id or contract ARN/id)."""
        value = principal.removeprefix("arn:aws:iam:::user/")
        with self._lock:
            for user in [self.owner, *self._users.values()]:
                if user.canonical and value in (user.canonical, f"{self.contract_number}:{user.id}"):
                    return user.canonical
        raise KeyError(f"no IONOS user with principal {principal!r}")

    def owner_contract_user_id(self) -> str:
        return f"{self.contract_number}:{self.owner.id}"

    # --- dispatch ----------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        path = request.url.path
        if path == CLOUD_PREFIX or path.startswith(f"{CLOUD_PREFIX}/"):
            api, relative = "cloud", path[len(CLOUD_PREFIX) :] or "/"
        else:
            api, relative = "management", path
        body: Any = None
        invalid_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                invalid_json, body = True, raw.decode(errors="replace")
        seen = Seen(
            api,
            request.method,
            relative,
            dict(request.query_params),
            request.headers.get("authorization"),
            body,
        )
        with self._lock:
            try:
                response = self._respond(seen, raw, invalid_json, request.headers.get("content-type", ""))
            except Refusal as refusal:
                response = ionos_error(refusal.status, refusal.message, refusal.code)
            seen.status = response.status_code
            self.requests.append(seen)
        return response

    def _respond(self, seen: Seen, raw: bytes, invalid_json: bool, content_type: str) -> Response:
        for failure in self._failures:
            if (
                failure.remaining > 0
                and failure.api in (None, seen.api)
                and failure.method in (None, seen.method)
            ):
                failure.remaining -= 1
                raise Refusal(
                    failure.status, "the stand-in was told to fail this request", "standin-injected"
                )
        if seen.authorization != f"Bearer {self.token}":
            raise Refusal(401, "Unauthorized: the bearer token is missing, invalid or expired", "paas-auth-1")
        matched_path = False
        for api, method, pattern, params, handler in self._routes:
            if api != seen.api:
                continue
            match = pattern.fullmatch(seen.path)
            if match is None:
                continue
            matched_path = True
            if method != seen.method:
                continue
            unknown = sorted(set(seen.query) - params)
            if unknown:
                raise Refusal(422, f"unknown query parameters {unknown}", "paas-validation-1")
            if invalid_json:
                raise Refusal(400, "the request body is not valid JSON", "paas-validation-2")
            if raw and "application/json" not in content_type:
                raise Refusal(415, "request bodies must be application/json", "paas-validation-3")
            return handler(seen, **match.groupdict())
        if matched_path:
            raise Refusal(405, f"{seen.method} is not allowed on {seen.path}", "paas-method")
        raise Refusal(404, f"no resource at {seen.path}", "paas-not-found")

    # --- validation --------------------------------------------------------------------------

    @staticmethod
    def _no_body(seen: Seen) -> None:
        if seen.body is not None:
            raise Refusal(422, f"{seen.method} {seen.path} takes no request body", "paas-validation-4")

    @staticmethod
    def _object(value: Any, where: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise Refusal(422, f"{where} must be a JSON object", "paas-validation-5")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise Refusal(422, f"{where} has unknown fields {unknown}", "paas-validation-6")
        missing = sorted(required - set(value))
        if missing:
            raise Refusal(422, f"{where} lacks the required fields {missing}", "paas-validation-7")
        return value

    def _access_key_body(self, seen: Seen, allowed: set[str]) -> str:
        body = self._object(seen.body, "the body", allowed, {"properties"})
        metadata = body.get("metadata", {})
        if not isinstance(metadata, dict) or metadata:
            raise Refusal(422, "metadata must be an empty object in a request", "paas-validation-8")
        properties = self._object(body["properties"], "properties", {"description"}, {"description"})
        if not isinstance(properties["description"], str):
            raise Refusal(422, "properties.description must be a string", "paas-validation-9")
        return properties["description"]

    # --- SeaweedFS identities ----------------------------------------------------------------

    def _mint(self, user: _User) -> tuple[str, str]:
        if user.canonical is None:
            user.canonical = secrets.token_hex(32)
            self._iam.create_user(UserName=user.canonical)
            self._seaweed_users.add(user.canonical)
        created = self._iam.create_access_key(UserName=user.canonical)["AccessKey"]
        return created["AccessKeyId"], created["SecretAccessKey"]

    def _unmint(self, user: _User, key_id: str) -> None:
        assert user.canonical is not None
        self._iam.delete_access_key(UserName=user.canonical, AccessKeyId=key_id)

    # --- Management API ----------------------------------------------------------------------

    def _access_key_object(self, key: _AccessKey, *, with_secret: bool) -> dict[str, Any]:
        status = "AVAILABLE" if key.polls_left <= 0 else "PROVISIONING"
        properties: dict[str, Any] = {
            "description": key.description,
            "accessKey": key.access_key,
            "canonicalUserId": self.owner.canonical,
            "contractUserId": self.owner_contract_user_id(),
        }
        if with_secret:
            properties["secretKey"] = key.secret_key
        return {
            "id": key.id,
            "type": "accesskey",
            "href": f"/accesskeys/{key.id}",
            "metadata": {
                "status": status,
                "statusMessage": None,
                "createdDate": key.created,
                "createdBy": self.owner.email,
                "createdByUserId": self.owner.id,
            },
            "properties": properties,
        }

    def _list_keys(self, seen: Seen) -> Response:
        self._no_body(seen)
        offset, limit = int(seen.query.get("offset", 0)), int(seen.query.get("limit", 100))
        keys = [
            k
            for k in self._access_keys.values()
            if seen.query.get("filter.accesskeyId") in (None, k.access_key)
        ]
        items = [self._access_key_object(k, with_secret=False) for k in keys[offset : offset + limit]]
        return _json(
            {"id": "accesskeys", "type": "collection", "href": "/accesskeys", "items": items,
             "offset": offset, "limit": limit, "_links": {}}
        )  # fmt: skip

    def _create_access_key(self, seen: Seen) -> Response:
        description = self._access_key_body(seen, {"metadata", "properties"})
        if len(self._access_keys) >= MAX_KEYS_PER_USER:  # the token's user holds them all
            raise Refusal(422, "a user can hold at most five access keys", "paas-keys-limit")
        access, secret = self._mint(self.owner)
        key = _AccessKey(str(uuid.uuid4()), description, access, secret, _now(), self.provisioning_polls)
        self._access_keys[key.id] = key
        answer = self._access_key_object(key, with_secret=True)
        answer["metadata"]["status"] = "PROVISIONING"
        return _json(answer, 201)

    def _find_access_key(self, key: str) -> _AccessKey:
        found = self._access_keys.get(key)
        if found is None:
            raise Refusal(404, f"access key {key} does not exist", "paas-not-found")
        return found

    def _get_access_key(self, seen: Seen, key: str) -> Response:
        self._no_body(seen)
        found = self._find_access_key(key)
        answer = self._access_key_object(found, with_secret=False)
        found.polls_left -= 1
        return _json(answer)

    def _put_access_key(self, seen: Seen, key: str) -> Response:
        description = self._access_key_body(seen, {"id", "metadata", "properties"})
        found = self._find_access_key(key)
        found.description = description
        return _json(self._access_key_object(found, with_secret=False))

    def _delete_access_key(self, seen: Seen, key: str) -> Response:
        self._no_body(seen)
        found = self._find_access_key(key)
        self._unmint(self.owner, found.access_key)
        del self._access_keys[key]
        return Response(status_code=202)

    # --- Cloud API ---------------------------------------------------------------------------

    def _user_body(self, user: _User, depth: int) -> dict[str, Any]:
        body: dict[str, Any] = {"id": user.id, "type": "user", "href": f"{CLOUD_PREFIX}/um/users/{user.id}"}
        if depth >= 0:
            body["metadata"] = {"etag": secrets.token_hex(16), "createdDate": user.created, "lastLogin": None}
            body["properties"] = {
                "firstname": user.firstname,
                "lastname": user.lastname,
                "email": user.email,
                "administrator": user.administrator,
                "forceSecAuth": user.force_sec_auth,
                "secAuthActive": False,
                "s3CanonicalUserId": user.canonical,
                "active": user.active,
            }
        return body

    def _find_user(self, user: str) -> _User:
        found = self._users.get(user)
        if found is None:
            raise Refusal(404, f"user {user} does not exist", "309")
        return found

    def _list_users(self, seen: Seen) -> Response:
        self._no_body(seen)
        depth = int(seen.query.get("depth", 0))
        offset, limit = int(seen.query.get("offset", 0)), int(seen.query.get("limit", 100))
        users = list(self._users.values())[offset : offset + limit]
        items = [
            self._user_body(u, 0) if depth >= 1 else {"id": u.id, "type": "user", "href": f"/um/users/{u.id}"}
            for u in users
        ]
        return _json(
            {"id": "users", "type": "collection", "href": f"{CLOUD_PREFIX}/um/users", "items": items,
             "offset": offset, "limit": limit, "_links": {}}
        )  # fmt: skip

    def _create_user(self, seen: Seen) -> Response:
        body = self._object(seen.body, "the body", {"properties"}, {"properties"})
        properties = self._object(body["properties"], "properties", USER_FIELDS, USER_REQUIRED)
        for name in USER_BOOLEANS & set(properties):
            if not isinstance(properties[name], bool):
                raise Refusal(422, f"properties.{name} must be a boolean", "100")
        for name in USER_REQUIRED:
            if not isinstance(properties[name], str) or not properties[name]:
                raise Refusal(422, f"properties.{name} must be a non-empty string", "100")
        if any(u.email == properties["email"] for u in self._users.values()):
            raise Refusal(422, "a user with this email address exists already", "100")
        user = _User(
            id=str(uuid.uuid4()),
            email=properties["email"],
            firstname=properties["firstname"],
            lastname=properties["lastname"],
            administrator=properties.get("administrator", False),
            force_sec_auth=properties.get("forceSecAuth", False),
            active=properties.get("active", True),
            created=_now(),
        )
        self._users[user.id] = user
        return _json(
            self._user_body(user, 0), 202, {"Location": f"{CLOUD_PREFIX}/requests/{uuid.uuid4()}/status"}
        )

    def _get_user(self, seen: Seen, user: str) -> Response:
        self._no_body(seen)
        return _json(self._user_body(self._find_user(user), 0))

    def _user_groups(self, seen: Seen, user: str) -> Response:
        self._no_body(seen)
        found = self._find_user(user)
        items = [
            {"id": g, "type": "group", "href": f"{CLOUD_PREFIX}/um/groups/{g}"} for g in sorted(found.groups)
        ]
        return _json({"id": f"{user}/groups", "type": "collection", "href": "", "items": items})

    def _add_member(self, seen: Seen, group: str) -> Response:
        body = self._object(seen.body, "the body", {"id"}, {"id"})
        if group != self.group_id:
            raise Refusal(404, f"group {group} does not exist", "309")
        found = self._find_user(str(body["id"]))
        if group in found.groups:
            raise Refusal(422, "the user is a member of this group already", "100")
        found.groups.add(group)
        return _json(
            self._user_body(found, 0), 202, {"Location": f"{CLOUD_PREFIX}/requests/{uuid.uuid4()}/status"}
        )

    def _s3key_body(self, user: _User, key: str, depth: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": key,
            "type": "s3key",
            "href": f"{CLOUD_PREFIX}/um/users/{user.id}/s3keys/{key}",
        }
        if depth >= 0:
            body["metadata"] = {"etag": secrets.token_hex(16), "createdDate": _now()}
            body["properties"] = {"secretKey": user.keys[key], "active": True}
        return body

    def _list_s3keys(self, seen: Seen, user: str) -> Response:
        self._no_body(seen)
        found = self._find_user(user)
        depth = int(seen.query.get("depth", 0))
        items = [self._s3key_body(found, k, 0 if depth >= 1 else -1) for k in found.keys]
        return _json({"id": f"{user}/s3keys", "type": "collection", "href": "", "items": items})

    def _create_s3key(self, seen: Seen, user: str) -> Response:
        self._no_body(seen)
        found = self._find_user(user)
        if len(found.keys) >= MAX_KEYS_PER_USER:
            raise Refusal(422, "a maximum of five keys per user can be generated", "100")
        key, secret = self._mint(found)
        found.keys[key] = secret
        return _json(self._s3key_body(found, key, 0), 201)

    def _get_s3key(self, seen: Seen, user: str, key: str) -> Response:
        self._no_body(seen)
        found = self._find_user(user)
        if key not in found.keys:
            raise Refusal(404, f"key {key} does not exist", "309")
        return _json(self._s3key_body(found, key, 0))

    def _delete_s3key(self, seen: Seen, user: str, key: str) -> Response:
        self._no_body(seen)
        found = self._find_user(user)
        if key not in found.keys:
            raise Refusal(404, f"key {key} does not exist", "309")
        self._unmint(found, key)
        del found.keys[key]
        return Response(
            status_code=202, headers={"Location": f"{CLOUD_PREFIX}/requests/{uuid.uuid4()}/status"}
        )
