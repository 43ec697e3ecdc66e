"""``WebhookService``: an organization's endpoints (create, change, delete, rotate their secret,
send a ping) and their delivery log, for one caller's scope at a time.

Every change records its audit event and commits in the same unit of work. A signing secret is
stored encrypted in the secret store; the endpoint keeps its id, and only the answer that makes
a secret (create, rotate) carries it, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from loopback.kit.clock import utcnow
from loopback.kit.enqueue import Enqueue
from loopback.kit.errors import Invalid, NotFound
from loopback.kit.ids import new_id
from loopback.kit.secrets import SecretStore
from loopback.kit.settings import Settings
from loopback.tenancy import audit
from loopback.tenancy.access import OrganizationScope
from loopback.webhooks import repository, signing
from loopback.webhooks.events import Named, ping_event
from loopback.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from loopback.webhooks.rules import description_problems, event_problems, url_problems

DELIVER = "webhook.deliver"
RELAY = "webhook.relay"
SECRET_PURPOSE = "webhook-signing"


@dataclass(frozen=True)
class DeliveryRow:
    delivery: WebhookDelivery
    bucket_name: str | None


@dataclass(frozen=True)
class Change:
    """What a PATCH sets; None leaves a field as it is."""

    url: str | None = None
    events: Sequence[str] | None = None
    enabled: bool | None = None
    description: str | None = None


def _where(url: str) -> str:
    """A URL for the audit log: scheme, host and path; never its query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class WebhookService:
    def __init__(self, secrets: SecretStore, enqueue: Enqueue, settings: Settings) -> None:
        self._secrets = secrets
        self._enqueue = enqueue
        self._settings = settings

    # --- reads -------------------------------------------------------------------------------

    def endpoints(self, session: Session, scope: OrganizationScope) -> list[WebhookEndpoint]:
        return list(session.scalars(repository.endpoints_in(scope)))

    def endpoint(self, session: Session, scope: OrganizationScope, endpoint_id: str) -> WebhookEndpoint:
        found = session.scalar(repository.endpoint_in(scope, endpoint_id))
        if found is None:
            raise NotFound(f"webhook {endpoint_id!r} does not exist in {scope.organization_slug!r}")
        return found

    def deliveries(
        self, session: Session, scope: OrganizationScope, endpoint_id: str, limit: int, cursor: str | None
    ) -> tuple[list[DeliveryRow], str | None]:
        """One page of an endpoint's delivery log, newest first; the cursor is a page's last id."""
        self.endpoint(session, scope, endpoint_id)
        statement = repository.deliveries_in(scope, endpoint_id)
        if cursor:
            statement = statement.where(WebhookDelivery.id < cursor)
        rows = [DeliveryRow(d, name) for d, name in session.execute(statement.limit(limit + 1))]
        next_cursor = rows[limit - 1].delivery.id if len(rows) > limit else None
        return rows[:limit], next_cursor

    # --- changes -----------------------------------------------------------------------------

    def _check(self, url: str | None, events: Sequence[str] | None, description: str | None) -> None:
        problems = [
            *(
                url_problems(
                    url,
                    allow_loopback_http=self._settings.webhook_allow_loopback_http,
                    allow_private=self._settings.webhook_allow_private_addresses,
                )
                if url
                else []
            ),
            *(event_problems(events) if events is not None else []),
            *description_problems(description),
        ]
        if problems:
            raise Invalid(problems)

    def create(
        self,
        session: Session,
        scope: OrganizationScope,
        url: str,
        events: Sequence[str],
        description: str | None,
    ) -> tuple[WebhookEndpoint, str]:
        """A new endpoint and its signing secret (the one time it is shown)."""
        if not url:
            raise Invalid.field("url", "give the https:// URL to deliver to")
        self._check(url, events, description)
        secret = signing.new_secret()
        endpoint = WebhookEndpoint(
            id=new_id("whk"),
            organization_id=scope.organization_id,
            url=url,
            description=description,
            event_types=" ".join(dict.fromkeys(events)),
            enabled=True,
            secret_id=self._secrets.put(session, SECRET_PURPOSE, secret),
        )
        session.add(endpoint)
        audit.record_in(session, scope, "webhook.create", endpoint.id, _where(url))
        session.commit()
        return endpoint, secret

    def update(
        self, session: Session, scope: OrganizationScope, endpoint_id: str, change: Change
    ) -> WebhookEndpoint:
        endpoint = self.endpoint(session, scope, endpoint_id)
        self._check(change.url, change.events, change.description)
        said = []
        if change.url is not None:
            endpoint.url = change.url
            said.append(f"url {_where(change.url)}")
        if change.events is not None:
            endpoint.event_types = " ".join(dict.fromkeys(change.events))
            said.append(f"events [{endpoint.event_types or 'all'}]")
        if change.enabled is not None:
            endpoint.enabled = change.enabled
            said.append("enabled" if change.enabled else "disabled")
        if change.description is not None:
            endpoint.description = change.description
            said.append("description")
        audit.record_in(session, scope, "webhook.update", endpoint.id, ", ".join(said) or "nothing")
        session.commit()
        if change.enabled:  # what waited while it was disabled goes now
            self._enqueue(RELAY)
        return endpoint

    def delete(self, session: Session, scope: OrganizationScope, endpoint_id: str) -> WebhookEndpoint:
        """The endpoint stops receiving at once; its log stays, its open deliveries end ``failed``."""
        endpoint = self.endpoint(session, scope, endpoint_id)
        endpoint.deleted_at = utcnow()
        session.execute(repository.close_open(endpoint.id, "the endpoint was deleted"))
        audit.record_in(session, scope, "webhook.delete", endpoint.id, _where(endpoint.url))
        session.commit()
        return endpoint

    def rotate_secret(self, session: Session, scope: OrganizationScope, endpoint_id: str) -> str:
        """A new signing secret, used from the next attempt on; the old one stops at once."""
        endpoint = self.endpoint(session, scope, endpoint_id)
        secret = signing.new_secret()
        self._secrets.replace(session, endpoint.secret_id, secret)
        endpoint.updated_at = utcnow()
        audit.record_in(session, scope, "webhook.rotate-secret", endpoint.id)
        session.commit()
        return secret

    def send_test(self, session: Session, scope: OrganizationScope, endpoint_id: str) -> WebhookDelivery:
        """A ``webhook.ping`` to the endpoint, whatever its event filter, in a lane of its own."""
        endpoint = self.endpoint(session, scope, endpoint_id)
        organization = session.scalars(repository.organization_of(scope)).one()
        event_id = new_id("evt")
        now = utcnow()
        named = Named(organization.id, organization.slug, organization.name)
        delivery = WebhookDelivery(
            id=new_id("whd"),
            organization_id=scope.organization_id,
            endpoint_id=endpoint.id,
            event_id=event_id,
            event_type="webhook.ping",
            bucket_id=None,
            lane=event_id,
            body=ping_event(event_id, named, endpoint.id, now, self._settings.resolved_public_url),
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
        )
        session.add(delivery)
        audit.record_in(session, scope, "webhook.test", endpoint.id, event_id)
        session.commit()
        self._enqueue(DELIVER, endpoint.id, delivery.lane)
        return delivery
