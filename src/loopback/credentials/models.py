"""Credential records and the encrypted secrets they reference."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from loopback.kit.clock import utcnow
from loopback.kit.db import Base
from loopback.kit.secrets import Secret

# Version 1: ``s3:*`` on one bucket (before keys were held to object operations). Version 2:
# object operations only, per grant. Keys below the current version are rewritten on every start
# (``CredentialService.narrow_legacy``) until none is left.
CURRENT_POLICY_VERSION = 2


class CredentialStatus:
    """Stored states; ``expiring`` and ``rotating`` are shown from the dates, never stored."""

    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


class Credential(Base):
    """An access key pair with grants over 1 to 128 buckets of one project, at one provider region.

    The secret half lives in ``secrets``. ``revoke_at`` is set on the old key of a rotation: it
    keeps working until then. ``rotated_from_id`` links a rotation's new key to the old one.
    """

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(63), default="")
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"))
    region_id: Mapped[str] = mapped_column(ForeignKey("regions.id"))
    access_key_id: Mapped[str] = mapped_column(String(128))
    secret_id: Mapped[str | None] = mapped_column(ForeignKey("secrets.id"), default=None)
    provider_user: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(20), default=CredentialStatus.ACTIVE, index=True)
    policy_version: Mapped[int] = mapped_column(Integer, default=CURRENT_POLICY_VERSION)
    expires_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    revoke_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    expiry_noticed_at: Mapped[datetime | None] = mapped_column(default=None)
    rotated_from_id: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    grants: Mapped[list[CredentialGrant]] = relationship(
        back_populates="credential",
        order_by="CredentialGrant.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    def mark_revoked(self, session: Session, status: str = CredentialStatus.REVOKED) -> None:
        """Record that the provider no longer knows this key, and drop its secret for good."""
        self.status = status
        self.revoked_at = utcnow()
        self.revoke_at = None
        if self.secret_id is not None:
            secret = session.get(Secret, self.secret_id)
            self.secret_id = None
            session.flush()
            if secret is not None:
                session.delete(secret)


class CredentialGrant(Base):
    """One bucket a credential reaches, ``read-write``, ``read-only`` or ``write-only``, or under a prefix."""

    __tablename__ = "credential_grants"

    credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"), primary_key=True)
    bucket_id: Mapped[str] = mapped_column(ForeignKey("buckets.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    access: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str | None] = mapped_column(String(512), default=None)

    credential: Mapped[Credential] = relationship(back_populates="grants")


class IssuingCredential(Base):
    """A key being issued right now: written before the provider is asked, gone with the key's record.

    A process killed between the provider's answer and the commit of the ``Credential`` leaves this
    row behind, with a lease it no longer renews; the row names the identity the provider may hold
    (``user_name``), so the upkeep removes it there (``credentials.issuing``). Not a tenant's row: it
    is never listed or shown, only swept.
    """

    __tablename__ = "issuing_credentials"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # the credential id to be
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"))
    region_id: Mapped[str] = mapped_column(ForeignKey("regions.id"))
    bucket_id: Mapped[str] = mapped_column(ForeignKey("buckets.id"))
    user_name: Mapped[str] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
