"""The doctor's provider checks: the round trip of ``loopback providers test`` through every enabled
provider (``providers.check``), which removes the scratch bucket and key it makes."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from loopback.kit.secrets import SecretStore
from loopback.kit.settings import Settings
from loopback.operations.checks import WHERE_DATABASE, opened, reason
from loopback.operations.findings import Finding, failing, ok, warning
from loopback.providers.models import Provider
from loopback.providers.service import ProviderService

PROVIDERS = "providers"

# Told a provider's name before its round trip starts: the slow part of a doctor's run.
Starting = Callable[[str], None]


def check_providers(settings: Settings, keys: list[bytes], starting: Starting | None = None) -> list[Finding]:
    service = ProviderService(SecretStore(keys))
    try:
        with opened(settings.resolved_database_url) as engine:
            with Session(engine) as session:
                names = list(
                    session.scalars(select(Provider.name).where(Provider.enabled).order_by(Provider.name))
                )
            if not names:
                return [
                    warning(
                        PROVIDERS,
                        "no provider is enabled: tenants cannot create buckets",
                        "`loopback providers add ...` or `loopback providers enable NAME`",
                    )
                ]
            findings = []
            for name in names:
                if starting is not None:
                    starting(name)
                findings.append(_round_trip(service, engine, name))
            return findings
    except Exception as error:
        return [failing(PROVIDERS, f"cannot read the providers: {reason(error)}", WHERE_DATABASE)]


def _round_trip(service: ProviderService, engine: Engine, name: str) -> Finding:
    check = f"provider {name}"
    try:
        with Session(engine) as session:
            result = service.check(session, service.get(session, name))
            session.commit()  # the outcome is kept on the provider, as `providers test` keeps it
    except Exception as error:
        return failing(check, f"the round trip could not run: {reason(error)}", _fix(name))
    if not result.ok:
        return failing(check, f"{result.region}: {result.error}", _fix(name))
    return ok(
        check, f"{result.region}: bucket, key, object written, read and deleted in {result.total_ms:.0f} ms"
    )


def _fix(name: str) -> str:
    return (
        f"check its endpoint and operator credentials (`loopback providers show {name}`), "
        f"then `loopback providers test {name}`; `loopback providers disable {name}` takes it out of use"
    )
