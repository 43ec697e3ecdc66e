"""What an endpoint may be: an https URL (http only to a loopback address when the installation
allows it, for development and tests), and event types from the table in ``events``."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from loopback.kit.errors import FieldProblem
from loopback.webhooks.events import KINDS

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_URL = 2000
MAX_DESCRIPTION = 500


def url_problems(url: str, *, allow_loopback_http: bool) -> list[FieldProblem]:
    if len(url) > MAX_URL:
        return [FieldProblem("url", f"at most {MAX_URL} characters")]
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port out of range)
    except ValueError as error:
        return [FieldProblem("url", f"not a URL: {error}")]
    if not parts.hostname:
        return [FieldProblem("url", "give an absolute https:// URL with a host")]
    if parts.username is not None or parts.password is not None:
        return [FieldProblem("url", "a URL with a user or password is refused: the signature authenticates")]
    if parts.fragment:
        return [FieldProblem("url", "a URL with a #fragment is refused")]
    if parts.scheme == "https":
        return []
    if parts.scheme == "http" and allow_loopback_http and parts.hostname in LOOPBACK_HOSTS:
        return []
    allowed = "https://" + (" (or http:// to 127.0.0.1, ::1, localhost)" if allow_loopback_http else "")
    return [FieldProblem("url", f"the URL must be {allowed}, not {parts.scheme or 'no scheme'}://")]


def event_problems(events: Sequence[str]) -> list[FieldProblem]:
    known = ", ".join(KINDS.values())
    return [
        FieldProblem(f"events.{index}", f"unknown event type {event!r}; known: {known}")
        for index, event in enumerate(events)
        if event not in KINDS.values()
    ]


def description_problems(description: str | None) -> list[FieldProblem]:
    if description is not None and len(description) > MAX_DESCRIPTION:
        return [FieldProblem("description", f"at most {MAX_DESCRIPTION} characters")]
    return []
