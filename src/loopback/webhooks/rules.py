"""What an endpoint may be: an https URL (http only to a loopback address when the installation
allows it, for development and tests), and event types from the table in ``events``.

A tenant names the URL and the control plane sends to it from inside the operator's network, so
an endpoint may only reach public addresses: a URL naming a private, loopback, link-local or
reserved address is refused when it is registered, and a name that resolves to one is refused at
every delivery (``public_addresses``), which then connects to the address it checked. Otherwise a
tenant could have Loopback post to the metadata service or an internal admin API and read the
answer in its delivery log. An operator whose receivers are inside sets
``LOOPBACK_WEBHOOK_ALLOW_PRIVATE_ADDRESSES``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from loopback.kit.errors import FieldProblem
from loopback.webhooks.events import KINDS

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_URL = 2000
MAX_DESCRIPTION = 500


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def public(address: Address) -> bool:
    """Reachable on the internet: not private, loopback, link-local, shared, reserved or multicast."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def allowed(address: Address, host: str, *, allow_loopback_http: bool, allow_private: bool) -> bool:
    """Whether a delivery may connect to ``address`` (``host`` named it in the URL)."""
    if allow_private or public(address):
        return True
    return allow_loopback_http and host in LOOPBACK_HOSTS and address.is_loopback


def public_addresses(
    host: str, port: int, *, allow_loopback_http: bool, allow_private: bool
) -> tuple[list[Address], list[Address]]:
    """What ``host`` resolves to now, split into the addresses a delivery may use and those it may
    not; an unresolvable name raises ``OSError``."""
    found: list[Address] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    usable = [
        a
        for a in found
        if allowed(a, host, allow_loopback_http=allow_loopback_http, allow_private=allow_private)
    ]
    return usable, [a for a in found if a not in usable]


def url_problems(url: str, *, allow_loopback_http: bool, allow_private: bool = False) -> list[FieldProblem]:
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
    address = literal_address(parts.hostname)
    if address is not None and not allowed(
        address, parts.hostname, allow_loopback_http=allow_loopback_http, allow_private=allow_private
    ):
        return [FieldProblem("url", f"{address} is not a public address: webhooks reach the internet only")]
    if parts.scheme == "https":
        return []
    if parts.scheme == "http" and allow_loopback_http and parts.hostname in LOOPBACK_HOSTS:
        return []
    schemes = "https://" + (" (or http:// to 127.0.0.1, ::1, localhost)" if allow_loopback_http else "")
    return [FieldProblem("url", f"the URL must be {schemes}, not {parts.scheme or 'no scheme'}://")]


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
