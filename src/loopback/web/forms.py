"""The console's forms as typed: the create-bucket and key forms, and their problems by field.

A refused form comes back filled in with what was typed, each problem beside the field it is about;
the service checks what a form cannot (a name already taken, a bucket that is not ready).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from loopback.buckets.models import DeletionPolicy
from loopback.credentials.service import MAX_GRACE_SECONDS, GrantRequest, KeyRequest, prefix_problems
from loopback.kit.clock import utcnow
from loopback.kit.errors import FieldProblem
from loopback.providers.base import Access
from loopback.web.dependencies import Posted

BUCKET_FIELDS = ("name", "provider", "region", "deletion_policy")
# The key forms' fields; a service's problem about anything else is shown above the form.
BUCKET_KEY_FIELDS = ("name", "access", "prefix", "expires_in_days")
KEY_FIELDS = (*BUCKET_KEY_FIELDS, "buckets")
ACCESS_MODES = (
    (Access.READ_WRITE.value, "get, put, delete and list objects"),
    (Access.READ_ONLY.value, "get and list objects; no put, no delete"),
    (Access.WRITE_ONLY.value, "put objects only; no get, no list, no delete"),
)
MAX_EXPIRY_DAYS = 3650
DEFAULT_GRACE_HOURS = 24
MAX_GRACE_HOURS = MAX_GRACE_SECONDS // 3600


# --- creating a bucket ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BucketForm:
    """What the create form holds, kept as typed so a refused form comes back filled in."""

    name: str = ""
    provider: str = ""
    region: str = ""
    deletion_policy: str = DeletionPolicy.DELETE

    @classmethod
    def of(cls, form: Posted) -> BucketForm:
        return cls(
            form.text("name"),
            form.text("provider"),
            form.text("region"),
            form.text("deletion_policy") or DeletionPolicy.DELETE,
        )


def field_errors(problems: Sequence[FieldProblem]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for problem in problems:
        field = problem.field if problem.field in BUCKET_FIELDS else "form"
        errors.setdefault(field, []).append(problem.detail)
    return errors


# --- a key: issuing and rotating ------------------------------------------------------------------


@dataclass(frozen=True)
class KeyForm:
    """What a key form holds, kept as typed so a refused form comes back filled in."""

    name: str = ""
    access: str = Access.READ_WRITE.value
    prefix: str = ""
    expires_in_days: str = ""
    buckets: tuple[str, ...] = ()

    @classmethod
    def of(cls, form: Posted) -> KeyForm:
        return cls(
            form.text("name"),
            form.text("access") or Access.READ_WRITE.value,
            form.text("prefix"),
            form.text("expires_in_days"),
            tuple(form.every("bucket")),
        )

    def days(self) -> int | None:
        try:
            days = int(self.expires_in_days)
        except ValueError:
            return None
        return days if 1 <= days <= MAX_EXPIRY_DAYS else None

    def problems(self) -> list[FieldProblem]:
        """What is wrong with the form itself, before any record is read; the service checks the rest."""
        problems: list[FieldProblem] = []
        if len(self.name) > 63:
            problems.append(FieldProblem("name", "a name is 1 to 63 characters"))
        if self.access not in {a.value for a in Access}:
            problems.append(FieldProblem("access", "one of read-write, read-only, write-only"))
        if self.prefix:
            problems += [FieldProblem("prefix", problem) for problem in prefix_problems(self.prefix)]
        if self.expires_in_days and self.days() is None:
            problems.append(
                FieldProblem("expires_in_days", f"a whole number of days from 1 to {MAX_EXPIRY_DAYS}")
            )
        return problems

    def request(self, bucket_ids: Sequence[str], grant_field: str) -> KeyRequest:
        days = self.days()
        return KeyRequest(
            grants=[GrantRequest(bucket_id, self.access, self.prefix or None) for bucket_id in bucket_ids],
            name=self.name or None,
            expires_at=utcnow() + timedelta(days=days) if days else None,
            grant_field=grant_field,
        )


def key_errors(problems: Sequence[FieldProblem], fields: Sequence[str] = KEY_FIELDS) -> dict[str, list[str]]:
    """A key form's problems by the field that shows them: ``grants.3.prefix`` is the one prefix."""
    errors: dict[str, list[str]] = {}
    for problem in problems:
        last = problem.field.rpartition(".")[2]
        if problem.field == "expires_at":
            name = "expires_in_days"
        elif last == "bucket_id" or problem.field == "grants":
            name = "buckets"
        else:
            name = last
        shown = errors.setdefault(name if name in fields else "form", [])
        if problem.detail not in shown:  # one prefix over many buckets: its problem once
            shown.append(problem.detail)
    return errors


def grace_hours(typed: str) -> float | None:
    """Hours the old key of a rotation keeps working, as typed (``24``, ``0.5``); None when not."""
    try:
        hours = float(typed)
    except ValueError:
        return None
    return hours if math.isfinite(hours) and 0 <= hours <= MAX_GRACE_HOURS else None
