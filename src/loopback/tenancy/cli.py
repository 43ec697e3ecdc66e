"""``loopback whoami|orgs|projects|members|tokens|audit``: the tenancy routes of API v3, from a shell.

Each command is one request (``audit --all`` one per page) through ``loopback.client``, which
owns the connection, the exit codes, the rendering and the options every command shares; the API
decides and validates everything.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from loopback.client.command import ApiCommand
from loopback.client.http import v3
from loopback.client.options import YES, Options, Shared, with_options
from loopback.client.output import Column

ORG_ENV = "LOOPBACK_ORG"
PANEL = "Organizations and access (API client)"
ROLES = "owner, admin, member, viewer or billing"

ORG = Shared(
    "org",
    Annotated[str, typer.Option("--org", envvar=ORG_ENV, help="the organization's slug", show_default=False)],
)

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


@with_options()
def whoami(options: Options) -> None:
    """Who the token belongs to, and the organizations they are a member of."""
    with options.api() as client:
        answer = client.get(v3("user"))
    show = options.printer()
    show.record(answer, USER)
    if not show.json:
        show.table(answer.body.get("organizations") or [], ORGANIZATION, "member of no organization")


# --- organizations -----------------------------------------------------------------------------


@orgs.command("list", cls=ApiCommand)
@with_options()
def list_organizations(options: Options) -> None:
    """The organizations you are a member of, with your role in each."""
    with options.api() as client:
        answer = client.get(v3("organizations"))
    options.printer().rows(answer, "organizations", ORGANIZATION, "You are a member of no organization.")


@orgs.command("create", cls=ApiCommand)
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


@orgs.command("show", cls=ApiCommand)
@with_options()
def show_organization(
    options: Options, org: Annotated[str, typer.Argument(help="the organization's slug")]
) -> None:
    """One organization and your role in it."""
    with options.api() as client:
        answer = client.get(v3("organizations", org))
    options.printer().record(answer, ORGANIZATION)


@orgs.command("rename", cls=ApiCommand)
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


@orgs.command("delete", cls=ApiCommand)
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


# --- projects ----------------------------------------------------------------------------------


def _projects(options: Options, *segments: str) -> str:
    return v3("organizations", options.required_org(), "projects", *segments)


@projects.command("list", cls=ApiCommand)
@with_options(ORG)
def list_projects(options: Options) -> None:
    """The organization's projects."""
    with options.api() as client:
        answer = client.get(_projects(options))
    options.printer().rows(answer, "projects", PROJECT, f"No projects in {options.org!r}.")


@projects.command("create", cls=ApiCommand)
@with_options(ORG)
def create_project(
    options: Options,
    slug: Annotated[str, typer.Argument(help="lowercase letters, digits and hyphens; used in paths")],
    name: Annotated[str | None, typer.Option(help="display name; the slug when left out")] = None,
) -> None:
    """Create a project in the organization."""
    with options.api() as client:
        answer = client.post(_projects(options), {"slug": slug, "name": name})
    options.printer().record(answer, PROJECT)


@projects.command("show", cls=ApiCommand)
@with_options(ORG)
def show_project(
    options: Options, project: Annotated[str, typer.Argument(help="the project's slug")]
) -> None:
    """One project."""
    with options.api() as client:
        answer = client.get(_projects(options, project))
    options.printer().record(answer, PROJECT)


@projects.command("rename", cls=ApiCommand)
@with_options(ORG)
def rename_project(
    options: Options,
    project: Annotated[str, typer.Argument(help="the project's slug; it stays")],
    name: Annotated[str, typer.Argument(help="the new display name")],
) -> None:
    """Change a project's display name; the slug in paths stays."""
    with options.api() as client:
        answer = client.patch(_projects(options, project), {"name": name})
    options.printer().record(answer, PROJECT)


@projects.command("delete", cls=ApiCommand)
@with_options(ORG, YES)
def delete_project(
    options: Options, project: Annotated[str, typer.Argument(help="the project's slug")]
) -> None:
    """Delete a project with no live buckets; its project tokens stop working."""
    options.confirm(f"Delete project {project!r} of {options.org!r} and revoke its project tokens?")
    with options.api() as client:
        answer = client.delete(_projects(options, project))
    show = options.printer()
    show.record(answer, PROJECT)
    show.note(f"Deleted project {project!r}.")


# --- members -----------------------------------------------------------------------------------

MemberArgument = Annotated[str, typer.Argument(help="the member's email or membership id")]


def _members(options: Options, *segments: str) -> str:
    return v3("organizations", options.required_org(), "members", *segments)


@members.command("list", cls=ApiCommand)
@with_options(ORG)
def list_members(options: Options) -> None:
    """Everyone in the organization, with their role."""
    with options.api() as client:
        answer = client.get(_members(options))
    options.printer().rows(answer, "members", MEMBER, f"No members in {options.org!r}.")


@members.command("add", cls=ApiCommand)
@with_options(ORG)
def add_member(
    options: Options,
    email: Annotated[
        str, typer.Argument(help="their email; a user without a token gets one from the operator")
    ],
    role: Annotated[str, typer.Option(help=ROLES, show_default=False)],
) -> None:
    """Add someone by email with a role; only an owner may add an owner."""
    with options.api() as client:
        answer = client.post(_members(options), {"email": email, "role": role})
    options.printer().record(answer, MEMBER)


@members.command("set-role", cls=ApiCommand)
@with_options(ORG)
def set_member_role(
    options: Options, member: MemberArgument, role: Annotated[str, typer.Argument(help=ROLES)]
) -> None:
    """Change a member's role; the last owner cannot be demoted."""
    with options.api() as client:
        answer = client.patch(_members(options, member), {"role": role})
    options.printer().record(answer, MEMBER)


@members.command("remove", cls=ApiCommand)
@with_options(ORG, YES)
def remove_member(options: Options, member: MemberArgument) -> None:
    """Remove a member and revoke their project tokens here; the last owner cannot be removed."""
    options.confirm(f"Remove {member} from {options.org!r} and revoke their project tokens there?")
    with options.api() as client:
        answer = client.delete(_members(options, member))
    show = options.printer()
    show.record(answer, MEMBER)
    show.note(f"Removed {answer.body.get('email', member)} from {options.org!r}.")


# --- tokens ------------------------------------------------------------------------------------


def _project_option(help_text: str) -> Shared:
    return Shared(
        "project", Annotated[str | None, typer.Option("--project", help=help_text, show_default=False)], None
    )


TOKENS_ORG = Shared(
    "org",
    Annotated[
        str | None,
        typer.Option(
            "--org",
            help=f"an organization's project tokens instead of your personal ones "
            f"(with --project: {ORG_ENV} when left out)",
            show_default=False,
        ),
    ],
    None,
)
TOKENS_OF_PROJECT = _project_option("only this project's tokens")
TOKEN_PROJECT = _project_option("the project's slug")
REVOKED_OF_ORG = Shared(
    "org",
    Annotated[
        str | None,
        typer.Option("--org", help="revoke a project token of this organization", show_default=False),
    ],
    None,
)


def _token_organization(options: Options) -> str | None:
    """--org as given; a --project alone means a project token, in the organization of LOOPBACK_ORG."""
    org = options.org
    if org is None and options.project is not None:
        org = os.environ.get(ORG_ENV) or None
        if org is None:
            raise typer.BadParameter(
                f"a project token needs --org (or {ORG_ENV}) with --project", param_hint="--org"
            )
    return org


@tokens.command("list", cls=ApiCommand)
@with_options(TOKENS_ORG, TOKENS_OF_PROJECT)
def list_tokens(options: Options) -> None:
    """Your personal tokens or, with --org, the organization's project tokens; never the tokens themselves."""
    org = _token_organization(options)
    path = v3("user", "tokens") if org is None else v3("organizations", org, "tokens")
    with options.api() as client:
        answer = client.get(path, params={"project": options.project})
    columns = PERSONAL_TOKEN if org is None else PROJECT_TOKEN
    options.printer().rows(answer, "tokens", columns, "No tokens.")


@tokens.command("create", cls=ApiCommand)
@with_options(TOKENS_ORG, TOKEN_PROJECT)
def create_token(
    options: Options,
    name: Annotated[str, typer.Argument(help="what the token is for")],
    role_cap: Annotated[
        str | None,
        typer.Option(help=f"at most this role ({ROLES}); required for a project token", show_default=False),
    ] = None,
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="none: until revoked", show_default=False)
    ] = None,
) -> None:
    """A personal token or, with --org and --project, a token acting inside one project only."""
    org = _token_organization(options)
    body: dict[str, Any] = {"name": name, "role_cap": role_cap, "expires_in_days": expires_in_days}
    if org is None:
        path = v3("user", "tokens")
    elif options.project is None:
        raise typer.BadParameter("a project token needs --project as well", param_hint="--project")
    else:
        path, body["project"] = v3("organizations", org, "tokens"), options.project
    with options.api() as client:
        answer = client.post(path, body)
    show = options.printer()
    show.record(answer, TOKEN)
    show.note("The token below is shown this once and will not be shown again; store it now.")
    if not show.json:
        typer.echo(answer.body["token"])


@tokens.command("revoke", cls=ApiCommand)
@with_options(REVOKED_OF_ORG)
def revoke_token(
    options: Options,
    token_id: Annotated[str, typer.Argument(help="the token's id (tok_...), as `tokens list` shows it")],
) -> None:
    """Revoke a token; it answers 401 from the next request on."""
    org = options.org
    path = v3("user", "tokens", token_id) if org is None else v3("organizations", org, "tokens", token_id)
    with options.api() as client:
        answer = client.delete(path)
    show = options.printer()
    show.record(answer, TOKEN)
    show.note(f"Revoked token {token_id}.")


# --- the audit log -----------------------------------------------------------------------------


@with_options(ORG, _project_option("only this project (slug or id)"))
def audit(
    options: Options,
    limit: Annotated[int, typer.Option(min=1, max=500, help="events per page")] = 50,
    action: Annotated[
        str | None, typer.Option(help="only this action, e.g. member.add", show_default=False)
    ] = None,
    outcome: Annotated[str | None, typer.Option(help="succeeded or denied", show_default=False)] = None,
    cursor: Annotated[
        str | None, typer.Option(help="the next_cursor of the page before", show_default=False)
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="follow next_cursor through every page")] = False,
) -> None:
    """The organization's audit events, newest first."""
    org = options.required_org()
    path = v3("organizations", org, "audit-events")
    params: dict[str, Any] = {
        "limit": limit,
        "action": action,
        "project": options.project,
        "outcome": outcome,
    }
    show = options.printer()
    with options.api() as client:
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
