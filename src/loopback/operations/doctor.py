"""``loopback doctor``: every part of an installation checked in turn, each finding with its fix.

The database first: the secrets and providers need it, so when it fails they are reported as
not checked rather than failing twice for one cause.
"""

from __future__ import annotations

from collections.abc import Callable

from loopback.kit.settings import Settings
from loopback.operations.checks import (
    DATABASE,
    check_clock,
    check_data_dir,
    check_database,
    check_queue,
)
from loopback.operations.findings import Finding, warning
from loopback.operations.secret_keys import SECRETS, check_secrets, configured_keys

# Told what runs now, and for a check that goes through rows, how far it got (done, total).
Progress = Callable[[str, int | None, int | None], None]


def diagnose(
    settings: Settings, *, providers: bool = True, progress: Progress | None = None
) -> list[Finding]:
    told = progress or (lambda _label, _done, _total: None)
    told("the database", None, None)
    database, tables = check_database(settings)
    findings = [database]
    told("the queue", None, None)
    findings.append(check_queue(settings))
    if not tables:
        findings.append(
            warning(SECRETS, "not checked: the database has no tables to read", f"fix the {DATABASE} first")
        )
    else:
        findings.append(check_secrets(settings, lambda done, total: told("the secrets", done, total)))
        if providers:
            findings += _providers(settings, told)
    told("the clock", None, None)
    findings.append(check_clock(settings))
    findings.append(check_data_dir(settings))
    return findings


def _providers(settings: Settings, told: Progress) -> list[Finding]:
    from loopback.operations.provider_checks import PROVIDERS, check_providers

    keys = configured_keys(settings)
    if isinstance(keys, Finding):
        return [
            warning(PROVIDERS, "not checked: no secret key opens their credentials", "fix the secrets first")
        ]
    return check_providers(settings, keys, lambda name: told(f"provider {name}", None, None))
