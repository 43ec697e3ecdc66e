"""Credential tasks: expiry, the end of rotations and legacy policy rewrites, once per resync period."""

from __future__ import annotations

from loopback.automation.queue import Automation
from loopback.credentials.service import CredentialService
from loopback.kit.settings import Settings


def register_tasks(automation: Automation, credentials: CredentialService, settings: Settings) -> None:
    def maintain() -> None:
        credentials.maintain()

    automation.register("credential.maintain", maintain)
    automation.periodic("credential.maintain.periodic", settings.resync_minutes, maintain)
