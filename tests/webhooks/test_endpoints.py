"""Webhooks over ASGI: register, list, show, change, rotate, delete, ping, the log; who may; bad input."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from loopback.kit.secrets import Secret
from loopback.runtime import Runtime
from loopback.tenancy.models import AuditEvent
from loopback.webhooks.models import WebhookEndpoint
from tests.conftest import wait_for
from tests.factories import bearer, member_of, member_token, organization
from tests.webhooks.conftest import HOOKS, Receiver, register, verified


def counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.db.session() as session:
        endpoints = session.scalar(select(func.count()).select_from(WebhookEndpoint))
        audits = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("webhook.%"))
        )
    return int(endpoints or 0), int(audits or 0)


def actions(runtime: Runtime) -> list[tuple[str, str | None, str | None]]:
    with runtime.db.session() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.target, AuditEvent.detail)
            .where(AuditEvent.action.like("webhook.%"))
            .order_by(AuditEvent.id)
        ).all()
    return [tuple(row) for row in rows]


def test_an_endpoint_from_registration_to_deletion_shows_its_secret_once_and_is_audited(
    client: TestClient, runtime: Runtime, receiver: Receiver
) -> None:
    created = register(client, receiver.url + "/hook?token=q9zk-private", ["bucket.ready", "key.rotated"])
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert created["events"] == ["bucket.ready", "key.rotated"]
    hook = f"{HOOKS}/{created['id']}"

    shown = client.get(hook).json()
    listed = client.get(HOOKS).json()["webhooks"]
    assert "secret" not in shown
    assert [w["id"] for w in listed] == [created["id"]]
    assert all(secret not in str(w) for w in listed)
    with runtime.db.session() as session:  # stored encrypted, not as it was shown
        ciphertexts = session.scalars(select(Secret.ciphertext)).all()
    assert all(secret.encode() not in c for c in ciphertexts)

    changed = client.patch(hook, json={"events": [], "enabled": False, "description": "ops"}).json()
    assert (changed["events"], changed["enabled"], changed["description"]) == ([], False, "ops")
    rotated = client.post(f"{hook}/rotate-secret").json()
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != secret
    client.patch(hook, json={"enabled": True})

    ping = client.post(f"{hook}/test")
    assert ping.status_code == 202, ping.text
    assert ping.json()["event_type"] == "webhook.ping"
    got = wait_for(lambda: receiver.at("/hook?token=q9zk-private"), timeout=10)
    assert verified(rotated["secret"], got[0])
    assert not verified(secret, got[0])
    assert got[0].event["type"] == "io.loopback.webhook.ping"
    log = wait_for(
        lambda: [
            d for d in client.get(f"{hook}/deliveries").json()["deliveries"] if d["status"] == "delivered"
        ]
    )
    assert log[0]["attempts"] == 1
    assert log[0]["last_status_code"] == 200

    assert client.delete(hook).status_code == 200
    assert client.get(hook).status_code == 404
    assert client.get(HOOKS).json()["webhooks"] == []
    done = [a for a, _, _ in actions(runtime)]
    assert done == [
        "webhook.create",
        "webhook.update",
        "webhook.rotate-secret",
        "webhook.update",
        "webhook.test",
        "webhook.delete",
    ]
    assert all(
        "q9zk-private" not in (detail or "") and secret not in (detail or "")
        for _, _, detail in actions(runtime)
    )


def problem_fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [error["field"] for error in response.json()["errors"]]


def test_bad_input_answers_a_problem_naming_the_field_and_records_nothing(
    client: TestClient, runtime: Runtime
) -> None:
    before = counts(runtime)
    assert problem_fields(client.post(HOOKS, json={"url": "http://example.com/hook"})) == ["url"]
    assert problem_fields(client.post(HOOKS, json={"url": "ftp://127.0.0.1/x"})) == ["url"]
    assert problem_fields(client.post(HOOKS, json={"url": "https://u:p@example.com/"})) == ["url"]
    unknown = client.post(
        HOOKS, json={"url": "https://example.com/", "events": ["bucket.ready", "bucket.eaten"]}
    )
    assert problem_fields(unknown) == ["events.1"]
    assert counts(runtime) == before

    hook = f"{HOOKS}/{register(client, 'https://example.com/hook')['id']}"
    middle = counts(runtime)
    assert problem_fields(client.patch(hook, json={"url": "http://10.0.0.1/"})) == ["url"]
    assert problem_fields(client.patch(hook, json={"events": ["key.lost"]})) == ["events.0"]
    assert counts(runtime) == middle
    assert client.get(hook).json()["url"] == "https://example.com/hook"


def test_https_only_unless_the_installation_allows_loopback_http(
    client: TestClient, runtime: Runtime
) -> None:
    runtime.settings.webhook_allow_loopback_http = False
    try:
        assert problem_fields(client.post(HOOKS, json={"url": "http://127.0.0.1:9/hook"})) == ["url"]
    finally:
        runtime.settings.webhook_allow_loopback_http = True
    assert client.post(HOOKS, json={"url": "http://127.0.0.1:9/hook"}).status_code == 201


def test_roles_below_admin_answer_403_and_another_organization_404(
    client: TestClient, runtime: Runtime
) -> None:
    hook = f"{HOOKS}/{register(client, 'https://example.com/hook')['id']}"
    for role in ("member", "viewer", "billing"):
        headers = member_of(runtime, role)
        assert client.get(HOOKS, headers=headers).status_code == 403
        assert client.post(HOOKS, json={"url": "https://example.com/x"}, headers=headers).status_code == 403
        assert client.get(f"{hook}/deliveries", headers=headers).status_code == 403
        assert client.post(f"{hook}/rotate-secret", headers=headers).status_code == 403
    admin = member_of(runtime, "admin")
    assert client.get(f"{hook}/deliveries", headers=admin).status_code == 200
    assert client.patch(hook, json={"enabled": False}, headers=admin).status_code == 200

    with runtime.db.session() as session:
        other = organization(session, "other")
        outsider = bearer(member_token(session, other, "owner"))
    assert client.get(HOOKS, headers=outsider).status_code == 404  # not a member of demo
    foreign = f"/v3/organizations/other/webhooks/{hook.rsplit('/', 1)[1]}"
    for method, path in (
        ("get", foreign),
        ("patch", foreign),
        ("delete", foreign),
        ("post", foreign + "/rotate-secret"),
        ("post", foreign + "/test"),
        ("get", foreign + "/deliveries"),
    ):
        kwargs: dict[str, Any] = {"json": {"enabled": True}} if method == "patch" else {}
        assert client.request(method, path, headers=outsider, **kwargs).status_code == 404, (method, path)
    assert client.get("/v3/organizations/other/webhooks", headers=outsider).json() == {"webhooks": []}
