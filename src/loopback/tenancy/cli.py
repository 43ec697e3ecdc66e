"""``loopback whoami|orgs|projects|members|tokens|audit``: the tenancy routes of API v3, from a shell.

Each command is one request (``audit --all`` one per page) through ``loopback.kit.client``, which
owns the connection, the exit codes and the rendering; the API decides and validates everything.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from loopback.kit.client import (
    ApiCommand,
    ApiUrlOption,
    Column,
    OutputFormat,
    OutputOption,
    Printer,
    TokenOption,
    api,
    confirm,
    v3,
)

ORG_ENV = "LOOPBACK_ORG"
PANEL = "Organizations and access (API client)"
ROLES = "owner, admin, member, viewer or billing"

OrgOption = Annotated[
    str, typer.Option("--org", envvar=ORG_ENV, help="the organization's slug", show_default=False)
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")]

ID = Column("id", "id")
CREATED = Column("created", "created_at")
SLUG = Column("slug", "slug")
ORGANIZATION = [SLUG, Column("name", "name"), Column("your role", "role"), ID, CREATED]
PROJECT = [SLUG, Column("name", "name"), Column("organization", "organization"), ID, CREATED]
MEMBER = [
    Column("email", "email"),
    Column("role", "role"),
    Column("membership id", "id"),
    Column("since", "created_at"),
]
TOKEN_LIFE = [
    Column("role cap", "role_cap"),
    Column("prefix", "prefix"),
    Column("last used", "last_used_at"),
    Column("expires", "expires_at"),
    Column("revoked", "revoked_at"),
]
PERSONAL_TOKEN = [ID, Column("name", "name"), *TOKEN_LIFE]
PROJECT_TOKEN = [ID, Column("name", "name"), Column("project", "project"), *TOKEN_LIFE]
TOKEN = [ID, Column("name", "name"), Column("kind", "kind"), Column("project", "project"), *TOKEN_LIFE]
AUDIT_EVENT = [
    Column("when", "occurred_at"),
    Column("actor", "actor_email"),
    Column("action", "action"),
    Column("outcome", "outcome"),
    Column("target", "target"),
    Column("detail", "detail"),
]
USER = [
    Column("email", "email"),
    Column("user id", "id"),
    Column("operator", "operator"),
    Column("token id", "token_id"),
    Column("token kind", "token_kind"),
    Column("role cap", "role_cap"),
]


def _app(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True)


orgs = _app("Organizations you are a member of: list, create, show, rename, delete.")
projects = _app("The projects of an organization.")
members = _app("The members of an organization and their roles.")
tokens = _app("Personal tokens (yours) or, with --org, an organization's project tokens.")


# --- you ---------------------------------------------------------------------------------------


def whoami(
    api_url: ApiUrlOption = None, token: TokenOption = None, output: OutputOption = OutputFormat.TABLE
) -> None:
    """Who the token belongs to, and the organizations they are a member of."""
    with api(api_url, token) as client:
        answer = client.get(v3("user"))
    show = Printer(output)
    show.record(answer, USER)
    if not show.json:
        show.table(answer.body.get("organizations") or [], ORGANIZATION, "member of no organization")


# --- organizations -----------------------------------------------------------------------------


@orgs.command("list", cls=ApiCommand)
def list_organizations(
    api_url: ApiUrlOption = None, token: TokenOption = None, output: OutputOption = OutputFormat.TABLE
) -> None:
    """The organizations you are a member of, with your role in each."""
    with api(api_url, token) as client:
        answer = client.get(v3("organizations"))
    Printer(output).rows(answer, "organizations", ORGANIZATION, "You are a member of no organization.")


@orgs.command("create", cls=ApiCommand)
def create_organization(
    slug: Annotated[str, typer.Argument(help="lowercase letters, digits and hyphens; used in paths")],
    name: Annotated[str | None, typer.Option(help="display name; the slug when left out")] = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Create an organization; you become its owner."""
    with api(api_url, token) as client:
        answer = client.post(v3("organizations"), {"slug": slug, "name": name})
    Printer(output).record(answer, ORGANIZATION)


@orgs.command("show", cls=ApiCommand)
def show_organization(
    org: Annotated[str, typer.Argument(help="the organization's slug")],
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """One organization and your role in it."""
    with api(api_url, token) as client:
        answer = client.get(v3("organizations", org))
    Printer(output).record(answer, ORGANIZATION)


@orgs.command("rename", cls=ApiCommand)
def rename_organization(
    org: Annotated[str, typer.Argument(help="the organization's slug; it stays")],
    name: Annotated[str, typer.Argument(help="the new display name")],
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Change an organization's display name; the slug in paths stays."""
    with api(api_url, token) as client:
        answer = client.patch(v3("organizations", org), {"name": name})
    Printer(output).record(answer, ORGANIZATION)


@orgs.command("delete", cls=ApiCommand)
def delete_organization(
    org: Annotated[str, typer.Argument(help="the organization's slug")],
    yes: YesOption = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Delete an organization with no live buckets; its projects and project tokens go with it."""
    confirm(f"Delete organization {org!r} with its projects and project tokens?", yes)
    with api(api_url, token) as client:
        answer = client.delete(v3("organizations", org))
    show = Printer(output)
    show.record(answer, ORGANIZATION)
    show.note(f"Deleted organization {org!r}.")


# --- projects ----------------------------------------------------------------------------------


@projects.command("list", cls=ApiCommand)
def list_projects(
    org: OrgOption,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """The organization's projects."""
    with api(api_url, token) as client:
        answer = client.get(v3("organizations", org, "projects"))
    Printer(output).rows(answer, "projects", PROJECT, f"No projects in {org!r}.")


@projects.command("create", cls=ApiCommand)
def create_project(
    slug: Annotated[str, typer.Argument(help="lowercase letters, digits and hyphens; used in paths")],
    org: OrgOption,
    name: Annotated[str | None, typer.Option(help="display name; the slug when left out")] = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Create a project in the organization."""
    with api(api_url, token) as client:
        answer = client.post(v3("organizations", org, "projects"), {"slug": slug, "name": name})
    Printer(output).record(answer, PROJECT)


@projects.command("show", cls=ApiCommand)
def show_project(
    project: Annotated[str, typer.Argument(help="the project's slug")],
    org: OrgOption,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """One project."""
    with api(api_url, token) as client:
        answer = client.get(v3("organizations", org, "projects", project))
    Printer(output).record(answer, PROJECT)


@projects.command("rename", cls=ApiCommand)
def rename_project(
    project: Annotated[str, typer.Argument(help="the project's slug; it stays")],
    name: Annotated[str, typer.Argument(help="the new display name")],
    org: OrgOption,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Change a project's display name; the slug in paths stays."""
    with api(api_url, token) as client:
        answer = client.patch(v3("organizations", org, "projects", project), {"name": name})
    Printer(output).record(answer, PROJECT)


@projects.command("delete", cls=ApiCommand)
def delete_project(
    project: Annotated[str, typer.Argument(help="the project's slug")],
    org: OrgOption,
    yes: YesOption = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Delete a project with no live buckets; its project tokens stop working."""
    confirm(f"Delete project {project!r} of {org!r} and revoke its project tokens?", yes)
    with api(api_url, token) as client:
        answer = client.delete(v3("organizations", org, "projects", project))
    show = Printer(output)
    show.record(answer, PROJECT)
    show.note(f"Deleted project {project!r}.")


# --- members -----------------------------------------------------------------------------------

MemberArgument = Annotated[str, typer.Argument(help="the member's email or membership id")]


@members.command("list", cls=ApiCommand)
def list_members(
    org: OrgOption,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Everyone in the organization, with their role."""
    with api(api_url, token) as client:
        answer = client.get(v3("organizations", org, "members"))
    Printer(output).rows(answer, "members", MEMBER, f"No members in {org!r}.")


@members.command("add", cls=ApiCommand)
def add_member(
    email: Annotated[
        str, typer.Argument(help="their email; a user without a token gets one from the operator")
    ],
    role: Annotated[str, typer.Option(help=ROLES, show_default=False)],
    org: OrgOption,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Add someone by email with a role; only an owner may add an owner."""
    with api(api_url, token) as client:
        answer = client.post(v3("organizations", org, "members"), {"email": email, "role": role})
    Printer(output).record(answer, MEMBER)


@members.command("set-role", cls=ApiCommand)
def set_member_role(
    member: MemberArgument,
    role: Annotated[str, typer.Argument(help=ROLES)],
    org: OrgOption,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Change a member's role; the last owner cannot be demoted."""
    with api(api_url, token) as client:
        answer = client.patch(v3("organizations", org, "members", member), {"role": role})
    Printer(output).record(answer, MEMBER)


@members.command("remove", cls=ApiCommand)
def remove_member(
    member: MemberArgument,
    org: OrgOption,
    yes: YesOption = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Remove a member and revoke their project tokens here; the last owner cannot be removed."""
    confirm(f"Remove {member} from {org!r} and revoke their project tokens there?", yes)
    with api(api_url, token) as client:
        answer = client.delete(v3("organizations", org, "members", member))
    show = Printer(output)
    show.record(answer, MEMBER)
    show.note(f"Removed {answer.body.get('email', member)} from {org!r}.")


# --- tokens ------------------------------------------------------------------------------------

TokenOrgOption = Annotated[
    str | None,
    typer.Option(
        "--org",
        help=f"an organization's project tokens instead of your personal ones "
        f"(with --project: {ORG_ENV} when left out)",
        show_default=False,
    ),
]
ProjectOption = Annotated[str | None, typer.Option(help="the project's slug", show_default=False)]


def _token_organization(org: str | None, project: str | None) -> str | None:
    """--org as given; a --project alone means a project token, in the organization of LOOPBACK_ORG."""
    if org is None and project is not None:
        org = os.environ.get(ORG_ENV) or None
        if org is None:
            raise typer.BadParameter(
                f"a project token needs --org (or {ORG_ENV}) with --project", param_hint="--org"
            )
    return org


@tokens.command("list", cls=ApiCommand)
def list_tokens(
    org: TokenOrgOption = None,
    project: Annotated[
        str | None, typer.Option(help="only this project's tokens", show_default=False)
    ] = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Your personal tokens or, with --org, the organization's project tokens; never the tokens themselves."""
    org = _token_organization(org, project)
    path = v3("user", "tokens") if org is None else v3("organizations", org, "tokens")
    with api(api_url, token) as client:
        answer = client.get(path, params={"project": project})
    Printer(output).rows(answer, "tokens", PERSONAL_TOKEN if org is None else PROJECT_TOKEN, "No tokens.")


@tokens.command("create", cls=ApiCommand)
def create_token(
    name: Annotated[str, typer.Argument(help="what the token is for")],
    role_cap: Annotated[
        str | None,
        typer.Option(help=f"at most this role ({ROLES}); required for a project token", show_default=False),
    ] = None,
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="none: until revoked", show_default=False)
    ] = None,
    org: TokenOrgOption = None,
    project: ProjectOption = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """A personal token or, with --org and --project, a token acting inside one project only."""
    org = _token_organization(org, project)
    body: dict[str, Any] = {"name": name, "role_cap": role_cap, "expires_in_days": expires_in_days}
    if org is None:
        path = v3("user", "tokens")
    elif project is None:
        raise typer.BadParameter("a project token needs --project as well", param_hint="--project")
    else:
        path, body["project"] = v3("organizations", org, "tokens"), project
    with api(api_url, token) as client:
        answer = client.post(path, body)
    show = Printer(output)
    show.record(answer, TOKEN)
    show.note("The token below is shown this once and will not be shown again; store it now.")
    if not show.json:
        typer.echo(answer.body["token"])


@tokens.command("revoke", cls=ApiCommand)
def revoke_token(
    token_id: Annotated[str, typer.Argument(help="the token's id (tok_...), as `tokens list` shows it")],
    org: Annotated[
        str | None,
        typer.Option("--org", help="revoke a project token of this organization", show_default=False),
    ] = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Revoke a token; it answers 401 from the next request on."""
    path = v3("user", "tokens", token_id) if org is None else v3("organizations", org, "tokens", token_id)
    with api(api_url, token) as client:
        answer = client.delete(path)
    show = Printer(output)
    show.record(answer, TOKEN)
    show.note(f"Revoked token {token_id}.")


# --- the audit log -----------------------------------------------------------------------------


def audit(
    org: OrgOption,
    limit: Annotated[int, typer.Option(min=1, max=500, help="events per page")] = 50,
    action: Annotated[
        str | None, typer.Option(help="only this action, e.g. member.add", show_default=False)
    ] = None,
    project: Annotated[
        str | None, typer.Option(help="only this project (slug or id)", show_default=False)
    ] = None,
    outcome: Annotated[str | None, typer.Option(help="succeeded or denied", show_default=False)] = None,
    cursor: Annotated[
        str | None, typer.Option(help="the next_cursor of the page before", show_default=False)
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="follow next_cursor through every page")] = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """The organization's audit events, newest first."""
    path = v3("organizations", org, "audit-events")
    params: dict[str, Any] = {"limit": limit, "action": action, "project": project, "outcome": outcome}
    show = Printer(output)
    with api(api_url, token) as client:
        answer = client.get(path, params={**params, "cursor": cursor})
        if not every:
            show.rows(answer, "events", AUDIT_EVENT, f"No audit events in {org!r}.")
            if answer.body.get("next_cursor"):
                show.note(f"More events: --cursor {answer.body['next_cursor']}, or --all for every page.")
            return
        events: list[dict[str, Any]] = list(answer.body.get("events") or [])
        while answer.body.get("next_cursor"):
            answer = client.get(path, params={**params, "cursor": answer.body["next_cursor"]})
            events.extend(answer.body.get("events") or [])
    if show.json:
        show.document({"events": events, "next_cursor": None})
    else:
        show.table(events, AUDIT_EVENT, f"No audit events in {org!r}.")


def register(app: typer.Typer) -> None:
    """Add these commands to the ``loopback`` command, under a help panel of their own."""
    app.command("whoami", cls=ApiCommand, rich_help_panel=PANEL)(whoami)
    app.add_typer(orgs, name="orgs", rich_help_panel=PANEL)
    app.add_typer(projects, name="projects", rich_help_panel=PANEL)
    app.add_typer(members, name="members", rich_help_panel=PANEL)
    app.add_typer(tokens, name="tokens", rich_help_panel=PANEL)
    app.command("audit", cls=ApiCommand, rich_help_panel=PANEL)(audit)
