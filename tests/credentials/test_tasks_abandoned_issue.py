"""A key whose issuing process died after the provider made it leaves no identity behind.

The death is a ``BaseException`` raised right after the real SeaweedFS made the identity, so none of
the service's ``except Exception`` clean-up runs, as with a SIGKILL; the database and the storage
are real. ``tests/faults/test_api_kills.py`` proves the same with a real API process killed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from loopback.credentials import issuing
from loopback.credentials.models import Credential, IssuingCredential
from loopback.credentials.service import CredentialService, GrantRequest, KeyRequest
from loopback.kit.clock import utcnow
from loopback.providers.base import StorageProvider
from loopback.providers.service import ProviderService
from loopback.runtime import Runtime
from tests.buckets.fakes import RecordingQueue
from tests.conftest import create_ready_bucket, operator_scope


class ProcessDied(BaseException):
    """What a SIGKILL looks like from inside: nothing after this line of the request runs."""


class AfterIssuing(ProviderService):
    """The real providers, but ``then`` runs the moment the provider has issued a key."""

    def __init__(self, runtime: Runtime, then: Callable[[], None]) -> None:
        super().__init__(runtime.secrets)
        self._then = then

    def adapter(self, session: Session, provider_id: str) -> StorageProvider:
        real = super().adapter(session, provider_id)
        then = self._then

        class Then:
            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            def issue_credential(self, *args: Any, **kwargs: Any) -> Any:
                issued = real.issue_credential(*args, **kwargs)
                then()
                return issued

        return cast(StorageProvider, Then())


def service_with(runtime: Runtime, providers: ProviderService, queue: RecordingQueue) -> CredentialService:
    return CredentialService(runtime.db, providers, runtime.secrets, runtime.buckets, queue)


def die() -> None:
    raise ProcessDied


@pytest.fixture
def short_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(issuing, "LEASE_SECONDS", 1.0)
    monkeypatch.setattr(issuing, "RENEW_SECONDS", 0.3)


def users(iam: Any) -> set[str]:
    return {user["UserName"] for user in iam.list_users()["Users"]}


def die_while_issuing(runtime: Runtime, bucket_id: str) -> tuple[str, RecordingQueue]:
    """Issue a key through a service whose process dies after the provider answered."""
    queue = RecordingQueue()
    dying = service_with(runtime, AfterIssuing(runtime, die), queue)
    with runtime.db.session() as session, pytest.raises(ProcessDied):
        dying.issue(session, operator_scope(session), KeyRequest([GrantRequest(bucket_id)], name="lost"))
    [(task, (credential_id,), delay)] = queue.asked
    assert task == issuing.FORGET_TASK
    assert delay is not None
    assert delay > issuing.LEASE_SECONDS  # asked about just after the lease would end
    return credential_id, queue


def test_the_identity_of_a_key_whose_process_died_is_removed(
    client: TestClient, runtime: Runtime, operator_iam: Any, short_lease: None
) -> None:
    bucket = create_ready_bucket(client, "died")
    credential_id, _ = die_while_issuing(runtime, bucket["id"])
    user = f"lb-{credential_id}"
    assert user in users(operator_iam)  # the provider made it, and no record names it
    with runtime.db.session() as session:
        assert session.get(Credential, credential_id) is None
        assert session.get(IssuingCredential, credential_id) is not None
    runtime.credentials.forget_abandoned(credential_id)  # before the lease ran out: a live attempt
    assert user in users(operator_iam)
    with runtime.db.session() as session:
        session.execute(
            update(IssuingCredential)
            .where(IssuingCredential.id == credential_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    runtime.credentials.forget_abandoned(credential_id)  # the task, once the lease has run out
    assert user not in users(operator_iam)
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(IssuingCredential)) == 0


def test_the_upkeep_round_forgets_what_the_task_missed(
    client: TestClient, runtime: Runtime, operator_iam: Any, short_lease: None
) -> None:
    bucket = create_ready_bucket(client, "swept")
    credential_id, _ = die_while_issuing(runtime, bucket["id"])
    with runtime.db.session() as session:
        session.execute(update(IssuingCredential).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    report = runtime.credentials.maintain()
    assert report.abandoned == 1
    assert f"lb-{credential_id}" not in users(operator_iam)


def test_a_slow_issue_keeps_its_lease_and_its_key(
    client: TestClient, runtime: Runtime, operator_iam: Any, short_lease: None
) -> None:
    """The heartbeat renews the lease while the provider works: another worker's sweep meanwhile
    takes nothing, and the key is recorded and works."""
    bucket = create_ready_bucket(client, "slow")
    another_worker = issuing.Issuing(runtime.db, runtime.providers, RecordingQueue())
    swept: list[int] = []

    def slow_then_sweep() -> None:
        time.sleep(3 * issuing.LEASE_SECONDS)  # three leases long, renewed every 0.3 s
        swept.append(another_worker.sweep())

    slow = service_with(runtime, AfterIssuing(runtime, slow_then_sweep), RecordingQueue())
    with runtime.db.session() as session:
        view, _secret = slow.issue_and_commit(
            session, operator_scope(session), KeyRequest([GrantRequest(bucket["id"])], name="slow")
        )
    assert swept == [0]
    with runtime.db.session() as session:
        row = session.get(Credential, view.credential.id)
        assert row is not None
        assert row.provider_user in users(operator_iam)
        assert session.scalar(select(func.count()).select_from(IssuingCredential)) == 0
