"""The delivery task: one lane (an endpoint and a bucket) at a time, its oldest open delivery first.

Only a lane's head is ever attempted, so a later event of a bucket never reaches an endpoint before
an earlier one, also while the earlier one waits for a retry; the head is claimed for the attempt
(a conditional update), so two tasks of one lane never send at once. The HTTP call runs with no
transaction open. A 2xx answer delivers it and the lane goes on; anything else, or no answer in
``webhook_timeout_seconds``, is retried after the next wait of ``webhook_retry_seconds`` (a task
enqueued with that delay, and the relay's sweep as the backstop); after the last it is ``failed``
and the lane goes on. Every attempt is signed anew (Standard Webhooks, ``signing``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from loopback.kit.clock import utcnow
from loopback.kit.db import Database
from loopback.kit.enqueue import Enqueue
from loopback.kit.secrets import SecretStore
from loopback.kit.settings import Settings
from loopback.webhooks import repository, rules, signing
from loopback.webhooks.events import CONTENT_TYPE
from loopback.webhooks.models import DeliveryStatus, WebhookDelivery
from loopback.webhooks.service import DELIVER

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

ERROR_CHARS = 300
USER_AGENT = "Loopback-Webhooks/1"


@dataclass(frozen=True)
class Attempt:
    delivery_id: str
    event_id: str
    url: str
    secret: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Deliverer:
    def __init__(self, db: Database, secrets: SecretStore, enqueue: Enqueue, settings: Settings) -> None:
        self._db = db
        self._secrets = secrets
        self._enqueue = enqueue
        self._waits = list(settings.webhook_retry_seconds)
        self._timeout = settings.webhook_timeout_seconds
        self._allow_loopback_http = settings.webhook_allow_loopback_http
        self._allow_private = settings.webhook_allow_private_addresses
        self._http: httpx.Client | None = None  # made by the first delivery: an API process needs none
        self._lock = threading.Lock()

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                import httpx

                # no proxies from the environment, no redirects: the request goes where it was sent
                self._http = httpx.Client(timeout=self._timeout, follow_redirects=False, trust_env=False)
            return self._http

    def deliver(self, endpoint_id: str, lane: str) -> int:
        """Send the lane's open deliveries in order until one must wait; answers how many were sent."""
        sent = 0
        while (attempt := self._claim(endpoint_id, lane)) is not None:
            outcome = self._send(attempt)
            sent += 1
            if not self._record(attempt, outcome, endpoint_id, lane):
                break
        return sent

    def _claim(self, endpoint_id: str, lane: str) -> Attempt | None:
        now = utcnow()
        with self._db.session() as session:
            head = session.scalar(repository.lane_head(endpoint_id, lane))
            if head is None or (head.next_attempt_at is not None and head.next_attempt_at > now):
                return None  # done, or a retry's task (or the sweep) comes at its time
            endpoint = session.scalar(repository.endpoint_by_id(endpoint_id))
            if endpoint is None or endpoint.deleted_at is not None or not endpoint.enabled:
                return None  # deleted: its deliveries were closed; disabled: they wait for it
            until = now + timedelta(seconds=self._timeout + 5)
            if session.execute(repository.claim(head.id, now, until)).rowcount != 1:  # type: ignore[attr-defined]
                return None  # another task holds this lane's head
            secret = self._secrets.get(session, endpoint.secret_id)
            return Attempt(head.id, head.event_id, endpoint.url, secret, head.body.encode())

    def _send(self, attempt: Attempt) -> Outcome:
        target = self._pinned(attempt.url)
        if isinstance(target, Outcome):
            return target
        url, host, extensions = target
        headers = {
            "host": host,
            "content-type": CONTENT_TYPE,
            "user-agent": USER_AGENT,
            **signing.headers(attempt.secret, attempt.event_id, attempt.body),
        }
        import httpx

        try:
            response = self._client().post(url, content=attempt.body, headers=headers, extensions=extensions)
        except httpx.HTTPError as error:
            return Outcome(None, f"{type(error).__name__}: {error}"[:ERROR_CHARS])
        if 200 <= response.status_code < 300:
            return Outcome(response.status_code, None)
        text = response.text.strip().replace("\n", " ")
        return Outcome(response.status_code, f"HTTP {response.status_code}: {text}"[:ERROR_CHARS])

    def _pinned(self, url: str) -> tuple[str, str, dict[str, Any]] | Outcome:
        """The URL with its host resolved now and checked (``rules.public_addresses``), the Host
        header and TLS name it keeps; or the outcome that refuses it. The connection goes to the
        address checked, so a name that changes its answer between check and connect gains nothing."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            usable, refused = rules.public_addresses(
                host, port, allow_loopback_http=self._allow_loopback_http, allow_private=self._allow_private
            )
        except OSError as error:
            return Outcome(None, f"{host} does not resolve: {error}"[:ERROR_CHARS])
        if refused or not usable:  # one private answer among public ones is refused as well
            return Outcome(None, f"{host} resolves to {refused[0]}, not a public address: not sent")
        address = sorted(usable, key=lambda a: a.version)[0]  # IPv4 first, as most receivers listen
        netloc = f"[{address}]" if address.version == 6 else str(address)
        if parts.port:
            netloc += f":{parts.port}"
        pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        extensions: dict[str, Any] = {"sni_hostname": host} if parts.scheme == "https" else {}
        return pinned, parts.netloc, extensions

    def _record(self, attempt: Attempt, outcome: Outcome, endpoint_id: str, lane: str) -> bool:
        """Write the attempt; answers whether the lane may go on now."""
        now = utcnow()
        retry_in: float | None = None
        with self._db.session() as session:
            delivery = session.get(WebhookDelivery, attempt.delivery_id)
            if delivery is None:
                return False
            delivery.attempts += 1
            delivery.last_status_code = outcome.status_code
            delivery.last_error = outcome.error
            delivery.claimed_until = None
            if delivery.status not in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING):
                return True  # closed while it was sent (the endpoint was deleted)
            if outcome.delivered:
                delivery.status = DeliveryStatus.DELIVERED
                delivery.delivered_at = now
                delivery.next_attempt_at = None
            elif delivery.attempts <= len(self._waits):
                retry_in = self._waits[delivery.attempts - 1]
                delivery.status = DeliveryStatus.RETRYING
                delivery.next_attempt_at = now + timedelta(seconds=retry_in)
            else:
                delivery.status = DeliveryStatus.FAILED
                delivery.next_attempt_at = None
                log.warning("webhook delivery %s failed for good: %s", delivery.id, outcome.error)
        if retry_in is None:
            return True
        self._enqueue(DELIVER, endpoint_id, lane, delay=retry_in)
        return False

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
