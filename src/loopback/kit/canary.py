"""The secret canary: one known value sealed with the installation's key and kept in the database.

Every replica and worker reads the same database, so a process that opens the canary holds the
key the installation's secrets are sealed with; one started with another key fails ``/readyz``
(check ``secrets``) instead of answering ``500 secret-key`` on every create and key issue.
The secret store seals it at first start and re-seals it in every rotation (``kit.secrets``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from loopback.kit.clock import utcnow
from loopback.kit.db import Base

CANARY_ID = "installation"
CANARY_PLAINTEXT = b"loopback secret canary: this process holds the installation's key"


class SecretCanary(Base):
    """The installation's canary (one row, ``id`` ``installation``): known plaintext, sealed."""

    __tablename__ = "secret_canary"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
