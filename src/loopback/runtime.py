"""The runtime of one process: settings, database, secret store, providers, queue and services.

Built once from settings by ``serve``, ``worker`` and the tests; nothing here is created at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from loopback.automation.queue import Automation, make_huey
from loopback.automation.tasks import register_tasks
from loopback.buckets.service import BucketService
from loopback.credentials.maintenance import BucketKeyReleases
from loopback.credentials.service import CredentialService
from loopback.kit.db import Database
from loopback.kit.secrets import SecretStore, load_keys
from loopback.kit.settings import Settings
from loopback.providers.service import ProviderService
from loopback.tenancy.service import TenancyService


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

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        secrets = SecretStore(load_keys(settings))
        providers = ProviderService(secrets)
        automation = Automation(make_huey(settings))
        buckets = BucketService(db, providers, automation.enqueue)
        providers.when_endpoint_changes(buckets.follow_region_endpoint)
        credentials = CredentialService(db, providers, secrets, buckets, automation.enqueue)
        buckets.keys = BucketKeyReleases()
        register_tasks(automation, buckets, credentials, settings)
        return cls(
            settings=settings,
            db=db,
            secrets=secrets,
            providers=providers,
            automation=automation,
            buckets=buckets,
            credentials=credentials,
            tenancy=TenancyService(live_resources=buckets.live_buckets),
        )

    def close(self) -> None:
        self.db.dispose()
