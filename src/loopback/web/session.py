"""The console's cookies: a sealed session (API token and CSRF token) and a shown-once secret.

Both are sealed with the secret store's MultiFernet, so the browser holds ciphertext only: the raw
API token never leaves the server in clear, and a cookie edited by hand does not open. The CSRF
token lives inside the session, so a form token taken from another session never matches.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from loopback.kit.secrets import SecretKeyError, SecretStore

SESSION_COOKIE = "loopback_console"
ONCE_COOKIE = "loopback_console_once"
LAST_PLACE_COOKIE = "loopback_console_last"
# The project a browser last opened is remembered this long (seconds): it opens there next time.
LAST_PLACE_SECONDS = 90 * 86400
COOKIE_PATH = "/console"
# A console session outlives a working day at most; the API token inside may expire sooner.
SESSION_SECONDS = 12 * 3600
# The shown-once secret waits this long for the page that shows it, then is gone.
ONCE_SECONDS = 120


@dataclass(frozen=True)
class Visit:
    """One browser's session: the API token once signed in, and the CSRF token of its forms."""

    csrf: str
    token: str | None = None
    started: float = 0.0

    @classmethod
    def anonymous(cls) -> Visit:
        return cls(csrf=secrets.token_urlsafe(24), started=time.time())

    @classmethod
    def signed_in(cls, token: str) -> Visit:
        """A fresh CSRF token at sign-in, so nothing learnt before it is worth anything after."""
        return cls(csrf=secrets.token_urlsafe(24), token=token, started=time.time())

    def accepts(self, csrf: str | None) -> bool:
        return csrf is not None and hmac.compare_digest(csrf.encode(), self.csrf.encode())


@dataclass(frozen=True)
class ShownOnce:
    """A secret handed from the POST that issued it to the one page view that shows it.

    ``place`` says which page shows it (a bucket's id, or ``keys:`` and a project's id). Only the
    key's ids and its secret travel, so the cookie stays small however many buckets the key
    reaches: the page that shows it reads the key's name, buckets, region and endpoint from its
    record, which it lists anyway.
    """

    place: str
    credential_id: str
    access_key_id: str
    secret: str


def _seal(store: SecretStore, payload: dict[str, Any]) -> str:
    return store.encrypt(json.dumps(payload, separators=(",", ":")).encode()).decode()


def _open(store: SecretStore, value: str | None, max_age: float) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        payload = json.loads(store.decrypt(value.encode()))
    except (SecretKeyError, ValueError):
        return None
    if not isinstance(payload, dict) or time.time() - float(payload.get("at", 0)) > max_age:
        return None
    return payload


def _set(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def _clear(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path=COOKIE_PATH, secure=request.url.scheme == "https", httponly=True, samesite="strict"
    )


def read_visit(store: SecretStore, request: Request) -> Visit | None:
    """The request's session, or None when it has none, or one that is forged, stale or unreadable."""
    payload = _open(store, request.cookies.get(SESSION_COOKIE), SESSION_SECONDS)
    if payload is None or not isinstance(payload.get("csrf"), str):
        return None
    token = payload.get("token")
    return Visit(csrf=payload["csrf"], token=token if isinstance(token, str) else None, started=payload["at"])


def write_visit(store: SecretStore, request: Request, response: Response, visit: Visit) -> None:
    payload = {"csrf": visit.csrf, "token": visit.token, "at": visit.started}
    _set(request, response, SESSION_COOKIE, _seal(store, payload), None)


def end_visit(request: Request, response: Response) -> None:
    _clear(request, response, SESSION_COOKIE)
    _clear(request, response, ONCE_COOKIE)


def hand_over_once(
    store: SecretStore, request: Request, response: Response, visit: Visit, shown: ShownOnce
) -> None:
    """Keep an issued secret for the next page view of this session only."""
    payload = {
        "place": shown.place,
        "credential": shown.credential_id,
        "key": shown.access_key_id,
        "secret": shown.secret,
        "csrf": visit.csrf,
        "at": time.time(),
    }
    _set(request, response, ONCE_COOKIE, _seal(store, payload), ONCE_SECONDS)


def take_once(store: SecretStore, request: Request, visit: Visit, place: str) -> ShownOnce | None:
    """The secret waiting for this page (``place``) in this session; the caller clears the cookie."""
    payload = _open(store, request.cookies.get(ONCE_COOKIE), ONCE_SECONDS)
    if payload is None or payload.get("place") != place or not visit.accepts(payload.get("csrf")):
        return None
    return ShownOnce(place, str(payload["credential"]), str(payload["key"]), str(payload["secret"]))


def remember_place(request: Request, response: Response, place: str) -> None:
    """The project this browser opened last (``org/project``): signing in again opens it.

    Only slugs, which the page's own URL shows, so it is kept in clear; a place the caller can no
    longer open is ignored when read.
    """
    if request.cookies.get(LAST_PLACE_COOKIE) != place:
        _set(request, response, LAST_PLACE_COOKIE, place, LAST_PLACE_SECONDS)


def last_place(request: Request) -> str | None:
    return request.cookies.get(LAST_PLACE_COOKIE)


def has_once(request: Request) -> bool:
    return ONCE_COOKIE in request.cookies


def drop_once(request: Request, response: Response) -> None:
    _clear(request, response, ONCE_COOKIE)
