"""``loopback doctor`` and ``loopback backup`` as an operator runs them on an installation's settings."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner, Result

from loopback.cli import app
from loopback.kit.settings import Settings


def environment(settings: Settings, **extra: str | None) -> dict[str, str | None]:
    """The LOOPBACK_* variables of ``settings``, and nothing of the developer's shell."""
    return {
        "LOOPBACK_DATA_DIR": str(settings.data_dir),
        "LOOPBACK_DATABASE_URL": settings.database_url,
        "LOOPBACK_QUEUE_URL": settings.queue_url,
        "LOOPBACK_QUEUE_NAME": settings.queue_name,
        "LOOPBACK_SECRET_KEY": None,
        "COLUMNS": "250",
        "NO_COLOR": "1",
        **extra,
    }


def loopback(settings: Settings, *args: str, **extra: str | None) -> Result:
    return CliRunner().invoke(app, list(args), env=environment(settings, **extra))


def doctor(settings: Settings, *args: str) -> tuple[int, dict[str, dict[str, Any]], Result]:
    """The doctor's exit code, its findings by check, and the run itself."""
    result = loopback(settings, "doctor", "--output", "json", *args)
    answer = json.loads(result.stdout)
    findings = {finding["check"]: finding for finding in answer["checks"]}
    assert answer["status"] == max(
        (f["status"] for f in findings.values()), key=["ok", "warning", "failing"].index
    ), answer
    return result.exit_code, findings, result
