"""``loopback whoami`` and ``loopback orgs list|create|show|rename|delete``: you and your organizations.

``whoami`` asks ``GET /v3/token`` first: a project token has no user to show, so it is answered by
its organization and project; a personal token by its user and their organizations, as ``GET
/v3/user`` tells them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from loopback.client.http import v3
from loopback.client.options import YES, Options, with_options
from loopback.tenancy.cli.columns import CALLING_PROJECT_TOKEN, ORGANIZATION, USER


@with_options()
def whoami(options: Options) -> None:
    """Who the token belongs to and their organizations; for a project token, where it acts."""
    with options.api() as client:
        token = client.get(v3("token"))
        user = None if token.body.get("kind") == "project" else client.get(v3("user"))
    show = options.printer()
    if user is None:
        show.record(token, CALLING_PROJECT_TOKEN)
        if not show.json:
            show.note("A project token acts in this project only: commands there need no --org or --project.")
        return
    show.record(user, USER)
    if not show.json:
        show.table(user.body.get("organizations") or [], ORGANIZATION, "member of no organization")


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
