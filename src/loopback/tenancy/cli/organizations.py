"""``loopback whoami`` and ``loopback orgs list|create|show|rename|delete``: you and your organizations."""

from __future__ import annotations

from typing import Annotated

import typer

from loopback.client.errors import ApiProblem
from loopback.client.http import v3
from loopback.client.options import YES, Options, with_options
from loopback.tenancy.cli.columns import ORGANIZATION, USER

PROJECT_TOKEN_HINTS = [
    "a project token acts in its one project: pass --org and --project (or set LOOPBACK_ORG and "
    "LOOPBACK_PROJECT) to the bucket and credentials commands",
    "the API does not tell a project token which project it is; "
    "`loopback tokens list --org ORG` shows it to the organization's admins",
]


@with_options()
def whoami(options: Options) -> None:
    """Who the token belongs to, and the organizations they are a member of."""
    with options.api() as client:
        try:
            answer = client.get(v3("user"))
        except ApiProblem as problem:
            if problem.status == 403 and problem.permission == "user.read":  # no account: a project token
                problem.hints.extend(PROJECT_TOKEN_HINTS)
            raise
    show = options.printer()
    show.record(answer, USER)
    if not show.json:
        show.table(answer.body.get("organizations") or [], ORGANIZATION, "member of no organization")


@with_options()
def list_organizations(options: Options) -> None:
    """The organizations you are a member of, with your role in each."""
    with options.api() as client:
        answer = client.get(v3("organizations"))
    options.printer().rows(answer, "organizations", ORGANIZATION, "You are a member of no organization.")


@with_options()
def create_organization(
    options: Options,
    slug: Annotated[str, typer.Argument(help="lowercase letters, digits and hyphens; used in paths")],
    name: Annotated[str | None, typer.Option(help="display name; the slug when left out")] = None,
) -> None:
    """Create an organization; you become its owner."""
    with options.api() as client:
        answer = client.post(v3("organizations"), {"slug": slug, "name": name})
    options.printer().record(answer, ORGANIZATION)


@with_options()
def show_organization(
    options: Options, org: Annotated[str, typer.Argument(help="the organization's slug")]
) -> None:
    """One organization and your role in it."""
    with options.api() as client:
        answer = client.get(v3("organizations", org))
    options.printer().record(answer, ORGANIZATION)


@with_options()
def rename_organization(
    options: Options,
    org: Annotated[str, typer.Argument(help="the organization's slug; it stays")],
    name: Annotated[str, typer.Argument(help="the new display name")],
) -> None:
    """Change an organization's display name; the slug in paths stays."""
    with options.api() as client:
        answer = client.patch(v3("organizations", org), {"name": name})
    options.printer().record(answer, ORGANIZATION)


@with_options(YES)
def delete_organization(
    options: Options, org: Annotated[str, typer.Argument(help="the organization's slug")]
) -> None:
    """Delete an organization with no live buckets; its projects and project tokens go with it."""
    options.confirm(f"Delete organization {org!r} with its projects and project tokens?")
    with options.api() as client:
        answer = client.delete(v3("organizations", org))
    show = options.printer()
    show.record(answer, ORGANIZATION)
    show.note(f"Deleted organization {org!r}.")
