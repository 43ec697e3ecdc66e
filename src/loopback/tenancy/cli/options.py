"""What several tenancy commands share: ``--org`` and the paths under it, ``--project``, the roles."""

from __future__ import annotations

from typing import Annotated

import typer

from loopback.client.http import v3
from loopback.client.options import Options, Shared

ORG_ENV = "LOOPBACK_ORG"
ROLES = "owner, admin, member, viewer or billing"

ORG = Shared(
    "org",
    Annotated[str, typer.Option("--org", envvar=ORG_ENV, help="the organization's slug", show_default=False)],
)


def project_option(help_text: str) -> Shared:
    """An optional ``--project`` with this help."""
    return Shared(
        "project", Annotated[str | None, typer.Option("--project", help=help_text, show_default=False)], None
    )


def in_org(options: Options, *segments: str) -> str:
    """The API path of ``segments`` under the organization ``--org`` names (it is required)."""
    return v3("organizations", options.required_org(), *segments)
