"""What the doctor reports: one finding per check, ok, warning or failing, with a one-line fix."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Status(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAILING = "failing"


# The doctor's exit code for its worst finding: scripts and probes read it without parsing.
EXIT_CODES = {Status.OK: 0, Status.WARNING: 1, Status.FAILING: 2}
_RANK = {Status.OK: 0, Status.WARNING: 1, Status.FAILING: 2}


@dataclass(frozen=True)
class Finding:
    """One check's outcome; ``fix`` says in one line what to do when it is not ok."""

    check: str
    status: Status
    detail: str
    fix: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {"check": self.check, "status": str(self.status), "detail": self.detail, "fix": self.fix}


def ok(check: str, detail: str) -> Finding:
    return Finding(check, Status.OK, detail)


def warning(check: str, detail: str, fix: str) -> Finding:
    return Finding(check, Status.WARNING, detail, fix)


def failing(check: str, detail: str, fix: str) -> Finding:
    return Finding(check, Status.FAILING, detail, fix)


def worst(findings: Iterable[Finding]) -> Status:
    return max((f.status for f in findings), key=_RANK.__getitem__, default=Status.OK)
