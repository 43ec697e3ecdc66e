"""Keys being issued: no identity stays at a provider without a record, even when a process dies.

Issuing a key asks the provider first and commits the ``Credential`` after, since only the
provider's answer holds the key. A process killed in between (an API replica's SIGKILL, a node
lost) used to leave an identity no record named: a working key nobody could see or revoke. So,
before the provider is asked, an ``IssuingCredential`` row is committed on its own, naming the
identity (``lb-<credential id>``) and holding a short lease that a heartbeat renews while the
provider works. The key's record deletes that row in its own transaction, so a row outlives its
lease only when the process that wrote it died. ``forget`` removes such an identity at the provider
(revoking an identity that was never made, or is gone, is success) and then the row: the
``credential.forget-abandoned`` task asked for just after the lease would end, and the key upkeep
round for any the task missed.

Families whose identity is not named by ``user_name`` cannot be found this way: Hetzner's key is
the tenant's shared slot key (nothing to remove); an IONOS key is named by IONOS, so an abandoned
one is logged with its name (management-API keys carry it in their description) for the operator.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, make_transient

from loopback.buckets.models import Bucket
from loopback.credentials.models import IssuingCredential
from loopback.kit.clock import utcnow
from loopback.kit.db import Database, bookkeeping
from loopback.kit.enqueue import Enqueue
from loopback.kit.heartbeat import Heartbeat
from loopback.providers.base import ProviderError
from loopback.providers.models import Region
from loopback.providers.service import ProviderService

log = logging.getLogger(__name__)

FORGET_TASK = "credential.forget-abandoned"
# Read at each use, so tests may shorten them.
LEASE_SECONDS = 15.0
RENEW_SECONDS = 5.0
SWEEP_BATCH = 200


class Issuing:
    """The rows of keys being issued: written before the provider call, renewed, forgotten."""

    def __init__(self, db: Database, providers: ProviderService, enqueue: Enqueue) -> None:
        self._db = db
        self._providers = providers
        self._enqueue = enqueue

    @contextmanager
    def attempt(self, credential_id: str, bucket: Bucket, user_name: str) -> Iterator[None]:
        """Commit the row (outside the request's unit of work), keep its lease while the block asks
        the provider, and ask for the check that forgets it if this process dies meanwhile."""
        with bookkeeping(), self._db.session() as session:
            session.add(
                IssuingCredential(
                    id=credential_id,
                    provider_id=bucket.provider_id,
                    region_id=bucket.region_id,
                    bucket_id=bucket.id,
                    user_name=user_name,
                    lease_expires_at=utcnow() + timedelta(seconds=LEASE_SECONDS),
                )
            )
        self._ask_to_forget(credential_id)
        with Heartbeat(f"lease-{credential_id}", lambda: RENEW_SECONDS, lambda: self.renew(credential_id)):
            yield

    @staticmethod
    def recorded(session: Session, credential_id: str) -> None:
        """In the transaction that commits the key's record: the row has done its job.

        A row already gone was taken by ``forget`` (this attempt's lease ran out unrenewed), which
        removes the identity at the provider: the key must not be recorded either.
        """
        gone = session.execute(delete(IssuingCredential).where(IssuingCredential.id == credential_id))
        if getattr(gone, "rowcount", 0) != 1:
            took_too_long = "the provider took longer than the key's lease; the key was withdrawn"
            raise ProviderError(took_too_long, transient=True, summary=took_too_long)

    def given_up(self, credential_id: str) -> None:
        """The attempt failed and cleaned up after itself: nothing is left to forget."""
        with bookkeeping(), self._db.session() as session:
            session.execute(delete(IssuingCredential).where(IssuingCredential.id == credential_id))

    def renew(self, credential_id: str) -> bool:
        with bookkeeping(), self._db.session() as session:
            renewed = session.execute(
                update(IssuingCredential)
                .where(IssuingCredential.id == credential_id)
                .values(lease_expires_at=utcnow() + timedelta(seconds=LEASE_SECONDS))
                .execution_options(synchronize_session=False)
            )
            return getattr(renewed, "rowcount", 0) == 1

    def _ask_to_forget(self, credential_id: str, delay: float | None = None) -> None:
        try:
            self._enqueue(FORGET_TASK, credential_id, delay=delay or LEASE_SECONDS + 1.0)
        except Exception:
            log.exception("could not enqueue %s for %s; the upkeep sweeps it", FORGET_TASK, credential_id)

    def forget(self, credential_id: str) -> bool:
        """Remove the identity of an abandoned attempt at its provider; True when one was forgotten.

        The row is taken first, in a commit of its own, so an attempt still alive finds it gone and
        records nothing (``recorded``); a row whose lease still runs is asked about again later. A
        provider that fails puts the row back, for the next round.
        """
        with self._db.session() as session:
            row = session.get(IssuingCredential, credential_id)
            if row is None:
                return False  # recorded, or given up: nothing to forget
            left = (row.lease_expires_at - utcnow()).total_seconds()
            if left > 0:
                self._ask_to_forget(credential_id, delay=left + 1.0)
                return False
            taken = session.execute(
                delete(IssuingCredential).where(
                    IssuingCredential.id == credential_id, IssuingCredential.lease_expires_at < utcnow()
                )
            )
            if getattr(taken, "rowcount", 0) != 1:
                return False  # renewed or recorded meanwhile
            session.expunge(row)
        with self._db.session() as session:
            region = session.get(Region, row.region_id)
            bucket = session.get(Bucket, row.bucket_id)
            assert region is not None
            assert bucket is not None
            try:
                adapter = self._providers.adapter(session, row.provider_id)
                adapter.revoke_credential(region.code, row.user_name, bucket.placement)
            except ProviderError:
                make_transient(row)
                session.add(row)  # still expired: the next round tries again
                session.commit()
                raise
        log.warning(
            "credential %s: the process issuing it stopped before recording it; identity %s removed "
            "at the provider (where the provider names identities by it)",
            credential_id,
            row.user_name,
        )
        return True

    def sweep(self) -> int:
        """Forget every attempt whose lease ran out (the key upkeep round); how many were."""
        with self._db.session() as session:
            due = list(
                session.scalars(
                    select(IssuingCredential.id)
                    .where(IssuingCredential.lease_expires_at < utcnow())
                    .order_by(IssuingCredential.lease_expires_at)
                    .limit(SWEEP_BATCH)
                )
            )
        forgotten = 0
        for credential_id in due:
            try:
                forgotten += self.forget(credential_id)
            except ProviderError as error:
                log.warning("credential %s: abandoned identity not removed: %s", credential_id, error.message)
        return forgotten
