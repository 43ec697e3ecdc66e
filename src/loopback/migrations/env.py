"""Alembic environment: the URL comes from the caller, the metadata from every domain's models."""

from __future__ import annotations

from alembic import context

from loopback.buckets import models as _buckets  # noqa: F401  (registers tables)
from loopback.credentials import models as _credentials  # noqa: F401
from loopback.kit import idempotency as _idempotency  # noqa: F401
from loopback.kit import leases as _leases  # noqa: F401
from loopback.kit import secrets as _secrets  # noqa: F401
from loopback.kit.db import Base, make_engine
from loopback.providers import models as _providers  # noqa: F401
from loopback.tenancy import models as _tenancy  # noqa: F401
from loopback.webhooks import models as _webhooks  # noqa: F401

config = context.config
url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("no database URL given to the migrations")

engine = make_engine(url)
with engine.connect() as connection:
    # render_as_batch lets later migrations alter tables on SQLite, which has no ALTER COLUMN.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
