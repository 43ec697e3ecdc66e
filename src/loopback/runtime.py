"""The runtime of one process: settings, database, secret store, providers, queue and services.

Built once from settings by ``serve``, ``worker`` and the tests; nothing here is created at import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from loopback.automation.queue import Automation, make_huey
from loopback.automation.tasks import register_tasks, register_webhook_tasks
from loopback.buckets.rounds import RoundLimits
from loopback.buckets.samples import SampleCompaction
from loopback.buckets.service import BucketService
from loopback.credentials.maintenance import BucketKeyReleases
from loopback.credentials.quota_enforcement import QuotaEnforcement
from loopback.credentials.service import CredentialService
from loopback.kit.db import Database
from loopback.kit.files import PRIVATE_FILE, create_private_file, make_private_dir
from loopback.kit.leases import RoundLeases
from loopback.kit.secrets import SecretStore, load_keys, prove_secret_key
from loopback.kit.settings import Settings
from loopback.metrics.exposition import Exposition, serve_worker_metrics
from loopback.providers.service import ProviderService
from loopback.quotas.service import Quotas
from loopback.tenancy.service import TenancyService
from loopback.webhooks.delivery import Deliverer
from loopback.webhooks.relay import Relay
from loopback.webhooks.service import WebhookService


@dataclass
class Runtime:
    settings: Settings
    db: Database
    secrets: SecretStore
    providers: ProviderService
    automation: Automation
    buckets: BucketService
    credentials: CredentialService
    tenancy: TenancyService
    webhooks: WebhookService

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        make_data_dir_private(settings)
        db = Database(settings.resolved_database_url, settings.database_connections)
        secrets = SecretStore(load_keys(settings))
        providers = ProviderService(secrets)
        automation = Automation(make_huey(settings))
        limits = RoundLimits(batch=settings.round_batch, concurrency=settings.provider_concurrency)
        buckets = BucketService(db, providers, automation.enqueue, limits)
        providers.when_endpoint_changes(buckets.follow_region_endpoint)
        credentials = CredentialService(db, providers, secrets, buckets, automation.enqueue)
        buckets.keys = BucketKeyReleases()
        buckets.quota = quotas = Quotas.from_settings(settings)
        buckets.usage_check = QuotaEnforcement(db, providers, quotas)
        register_tasks(automation, buckets, credentials, settings, SampleCompaction(db, RoundLeases(db)), db)
        if settings.worker_metrics_port is not None:  # a `loopback worker` has no API to answer /metrics
            port = settings.worker_metrics_port
            exposition = Exposition(db, automation.huey, settings)
            automation.when_standalone_starts(lambda: serve_worker_metrics(exposition, settings.host, port))
        webhooks = WebhookService(secrets, automation.enqueue, settings)
        deliverer = Deliverer(db, secrets, automation.enqueue, settings)
        register_webhook_tasks(automation, Relay(db, automation.enqueue, settings), deliverer, settings)
        return cls(
            settings=settings,
            db=db,
            secrets=secrets,
            providers=providers,
            automation=automation,
            buckets=buckets,
            credentials=credentials,
            tenancy=TenancyService(live_resources=buckets.live_buckets),
            webhooks=webhooks,
        )

    def check_secrets(self) -> None:
        """Readiness: this process's key opens the installation's canary (sealing it on first start)."""
        prove_secret_key(self.db, self.secrets)

    def close(self) -> None:
        self.db.dispose()


SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def sqlite_files(settings: Settings) -> list[Path]:
    """The SQLite files of this installation's database and queue, wherever they are configured."""
    found: list[Path] = []
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        found.append(Path(str(url.database)))
    queue = settings.queue_url
    if queue is None:
        found.append(settings.data_dir / "queue.db")
    elif queue.startswith("sqlite:///"):
        found.append(Path(queue.removeprefix("sqlite:///")))
    return found


def make_data_dir_private(settings: Settings) -> None:
    """The data directory 0700, and the SQLite files 0600, created before SQLite creates them 0644.

    SQLite gives its ``-wal``, ``-shm`` and journal files the database file's mode; ones left by
    an older start are made 0600 here too. A file whose directory does not exist is left to
    SQLite, which reports it.
    """
    make_private_dir(settings.data_dir)
    for path in sqlite_files(settings):
        if not path.parent.is_dir():
            continue
        create_private_file(path)
        for suffix in SQLITE_COMPANIONS:
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                os.chmod(companion, PRIVATE_FILE)
