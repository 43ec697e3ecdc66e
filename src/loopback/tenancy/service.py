"""``TenancyService``: the one object callers use for organizations, projects, members and tokens.

Its methods live in one module per job, mixed in here: ``organizations`` (organizations and
projects), ``members`` and ``tokens``; the rules they share (slugs, roles, emails, refusals) are in
``rules``, and the installation's own ways in (the first-start bootstrap, ``loopback admin token``)
in ``bootstrap``. Every change records its audit event and commits in the same unit of work. Reads
and writes go through ``repository`` with the organization resolved for the caller
(``OrganizationScope``), never by an id from the path alone.

The names callers import from here (``TenancyService``, ``MemberView``, ``IssuedToken``,
``bootstrap``, ``issue_user_token``, ``BootstrapResult``, ``OPERATOR_EMAIL`` ...) stay importable
from this module.
"""

from __future__ import annotations

from loopback.tenancy.bootstrap import (
    BOOTSTRAP_TOKEN_FILE,
    BOOTSTRAP_TOKEN_NAME,
    OPERATOR_EMAIL,
    BootstrapResult,
    bootstrap,
    issue_user_token,
)
from loopback.tenancy.members import Members, MemberView
from loopback.tenancy.organizations import LiveResources, Organizations
from loopback.tenancy.rules import EMAIL, SLUG, role_problems, slug_problems
from loopback.tenancy.tokens import IssuedToken, Tokens

__all__ = [
    "BOOTSTRAP_TOKEN_FILE",
    "BOOTSTRAP_TOKEN_NAME",
    "EMAIL",
    "OPERATOR_EMAIL",
    "SLUG",
    "BootstrapResult",
    "IssuedToken",
    "LiveResources",
    "MemberView",
    "TenancyService",
    "bootstrap",
    "issue_user_token",
    "role_problems",
    "slug_problems",
]


class TenancyService(Organizations, Members, Tokens):
    """Organizations and projects, members and tokens, for one caller's scope at a time.

    ``live_resources`` answers how many live buckets an organization or project still holds; the
    runtime plugs in the buckets domain's count, which tenancy cannot import.
    """

    def __init__(self, live_resources: LiveResources) -> None:
        self._live_resources = live_resources
