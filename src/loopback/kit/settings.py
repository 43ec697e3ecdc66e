"""Settings read from the environment with the prefix ``LOOPBACK_``."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Connections beyond the API's and the workers' threads: the periodic rounds' elections and a
# request's second session (a refusal's audit event, the idempotency record).
ROUND_CONNECTIONS = 4


class Settings(BaseSettings):
    """One installation's configuration; every field is ``LOOPBACK_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="LOOPBACK_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".loopback"), description="where SQLite, keys and the embedded storage live"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; SQLite in the data directory when unset"
    )
    queue_url: str | None = Field(
        default=None, description="redis://... for Redis; SQLite in the data directory when unset"
    )
    queue_name: str = Field(
        default="loopback", description="the queue's name; installations sharing one Redis differ here"
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="comma-separated Fernet keys, newest first; a key file in the data directory when unset",
    )
    bootstrap_token: SecretStr | None = None
    public_url: str | None = Field(
        default=None,
        description="base URL clients reach the API at; derived from host and port when unset",
    )

    max_request_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="the largest request body accepted; a larger one answers 413 before it is read",
    )
    auth_failures_per_minute: int = Field(
        default=20, ge=1, description="failed authentications per client address before 429"
    )
    access_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="how long a replica remembers who a token is and what it reaches (0: not at all); "
        "a revocation or role change made elsewhere holds within this time",
    )

    providers_file: Path | None = Field(
        default=None,
        description="a YAML file of providers that `serve` applies at every start (README: Providers)",
    )
    embedded_storage: bool = Field(
        default=True, description="start SeaweedFS and register it as provider `local`"
    )
    storage_s3_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="0 picks a free port (the previous one when still free)",
    )

    workers: int = Field(default=2, ge=0, description="automation worker threads inside `serve`; 0 runs none")
    api_threads: int = Field(
        default=32,
        ge=1,
        le=512,
        description="threads the API runs its routes in; the database pool keeps one connection for each, "
        "one for each worker thread, and a few for periodic rounds",
    )
    resync_minutes: int = Field(default=1, ge=1, le=59, description="how often the periodic resync runs")
    resync_seconds: int | None = Field(
        default=None,
        ge=1,
        le=3600,
        description="the resync's period in seconds, in place of resync_minutes (drills, tests)",
    )
    drift_minutes: int = Field(
        default=10,
        ge=1,
        le=59,
        description="how often ready buckets are checked to still exist at the provider",
    )
    usage_minutes: int = Field(
        default=5, ge=1, le=59, description="how often usage is refreshed for ready buckets"
    )
    provider_concurrency: int = Field(
        default=4,
        ge=1,
        le=256,
        description="calls of the usage and drift rounds one process makes to one provider at once",
    )
    round_batch: int = Field(
        default=500,
        ge=1,
        le=10000,
        description="buckets per batch of the usage and drift rounds (one task, one transaction each)",
    )

    # Installation defaults of the quotas (docs/quotas.md): none is unlimited. An organization's own
    # quotas (set by the operator) and a project's (owners and admins, never above its organization's)
    # take their place.
    quota_buckets: int | None = Field(default=None, ge=0, description="buckets per project")
    quota_bucket_bytes: int | None = Field(
        default=None, ge=0, description="bytes per bucket (enforced after each usage sync)"
    )
    quota_bucket_objects: int | None = Field(
        default=None, ge=0, description="objects per bucket (enforced after each usage sync)"
    )
    quota_project_bytes: int | None = Field(
        default=None, ge=0, description="bytes per project (enforced after each usage sync)"
    )
    quota_project_objects: int | None = Field(
        default=None, ge=0, description="objects per project (enforced after each usage sync)"
    )

    # Lifecycle webhooks (docs/webhooks.md): the retry schedule after the first attempt, in seconds
    # (Standard Webhooks' own: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), and plain http to a
    # loopback address for development and tests (production endpoints must be https).
    webhook_retry_seconds: list[float] = Field(
        default=[5, 300, 1800, 7200, 18000, 36000, 36000],
        description="waits between a webhook delivery's attempts (a JSON list); one attempt more in all",
    )
    webhook_timeout_seconds: float = Field(
        default=10, gt=0, le=60, description="how long a webhook endpoint may take to answer"
    )
    webhook_relay_seconds: int = Field(
        default=15,
        ge=1,
        le=3600,
        description="how often the webhook relay reads new bucket events, besides when a task wakes it",
    )
    webhook_allow_loopback_http: bool = Field(
        default=False, description="accept http:// webhook URLs on 127.0.0.1, ::1 or localhost (dev, tests)"
    )
    webhook_allow_private_addresses: bool = Field(
        default=False,
        description="let webhooks reach private, loopback and link-local addresses (receivers inside)",
    )

    # Observability (docs/metrics.md): the log format, and who may read /metrics.
    log_format: Literal["text", "json"] = Field(
        default="text", description="text lines, or one JSON object a line with the request's ids"
    )
    metrics_networks: list[str] = Field(
        default=[],
        description="client address ranges (CIDR, a JSON list) /metrics answers; any address when empty",
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="a bearer token /metrics asks for (not a tenant's token); none when unset"
    )
    metrics_figures_seconds: float = Field(
        default=30,
        ge=0,
        le=3600,
        description="how long a process reuses the database's figures for /metrics (0: read at every scrape)",
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="the port a `loopback worker` answers /metrics on, at LOOPBACK_HOST; none when unset",
    )

    @field_validator("metrics_networks")
    @classmethod
    def _networks(cls, networks: list[str]) -> list[str]:
        """A mistyped range fails the start, not every scrape."""
        return [str(ipaddress.ip_network(network.strip(), strict=False)) for network in networks]

    @property
    def database_connections(self) -> int:
        """Connections a process's pool keeps: one per thread that may hold one at a time."""
        return self.api_threads + self.workers + ROUND_CONNECTIONS

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'loopback.db').resolve()}"

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
