"""Credential records and the encrypted secrets they reference."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from loopback.kit.clock import utcnow
from loopback.kit.db import Base


class Secret(Base):
    """One encrypted value; everything else holds only its id."""

    __tablename__ = "secrets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Credential(Base):
    """An access key pair issued for one bucket; the secret half lives in ``secrets``."""

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    bucket_id: Mapped[str] = mapped_column(ForeignKey("buckets.id"), index=True)
    access_key_id: Mapped[str] = mapped_column(String(128))
    secret_id: Mapped[str | None] = mapped_column(ForeignKey("secrets.id"), default=None)
    provider_user: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    def mark_revoked(self, session: Session) -> None:
        """Record that the provider no longer knows this key, and drop its secret for good."""
        self.status = "revoked"
        self.revoked_at = utcnow()
        if self.secret_id is not None:
            secret = session.get(Secret, self.secret_id)
            self.secret_id = None
            session.flush()
            if secret is not None:
                session.delete(secret)
