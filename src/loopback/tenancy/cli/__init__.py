"""``loopback whoami|orgs|projects|members|tokens|audit``: the tenancy routes of API v3, from a shell.

Each command is one request (``audit --all`` one per page) through ``loopback.client``, which
owns the connection, the exit codes, the rendering and the options every command shares; the API
decides and validates everything.

The rooms: ``organizations`` (``whoami`` and ``orgs``), ``projects``, ``members``, ``tokens`` and
``audit`` hold the commands; ``options`` the options several of them share, ``columns`` how
their answers read in a table. This module lists the commands, in the order the help shows them,
with the API operations each one reaches.
"""

from __future__ import annotations

import typer

from loopback.client.command import ApiCommand, api_group
from loopback.client.operations import ORG, ORGANIZATIONS, USER, calls
from loopback.tenancy.cli import members, organizations, projects, tokens
from loopback.tenancy.cli.audit import audit
from loopback.tenancy.cli.organizations import whoami

PANEL = "Organizations and access (API client)"
PROJECTS = ORG + "/projects"
MEMBERS = ORG + "/members"
ORG_TOKENS = ORG + "/tokens"

orgs_group = api_group(
    "Organizations you are a member of: list, create, show, rename, delete.",
    {
        "list": calls(organizations.list_organizations, f"GET {ORGANIZATIONS}"),
        "create": calls(organizations.create_organization, f"POST {ORGANIZATIONS}"),
        "show": calls(organizations.show_organization, f"GET {ORG}"),
        "rename": calls(organizations.rename_organization, f"PATCH {ORG}"),
        "delete": calls(organizations.delete_organization, f"DELETE {ORG}"),
    },
)
projects_group = api_group(
    "The projects of an organization.",
    {
        "list": calls(projects.list_projects, f"GET {PROJECTS}"),
        "create": calls(projects.create_project, f"POST {PROJECTS}"),
        "show": calls(projects.show_project, f"GET {PROJECTS}/{{project}}"),
        "rename": calls(projects.rename_project, f"PATCH {PROJECTS}/{{project}}"),
        "delete": calls(projects.delete_project, f"DELETE {PROJECTS}/{{project}}"),
    },
)
members_group = api_group(
    "The members of an organization and their roles.",
    {
        "list": calls(members.list_members, f"GET {MEMBERS}"),
        "add": calls(members.add_member, f"POST {MEMBERS}"),
        "set-role": calls(members.set_member_role, f"PATCH {MEMBERS}/{{member}}"),
        "remove": calls(members.remove_member, f"DELETE {MEMBERS}/{{member}}"),
    },
)
tokens_group = api_group(
    "Personal tokens (yours) or, with --org, an organization's project tokens.",
    {  # personal tokens without --org, an organization's project tokens with it
        "list": calls(tokens.list_tokens, f"GET {USER}/tokens", f"GET {ORG_TOKENS}"),
        "create": calls(tokens.create_token, f"POST {USER}/tokens", f"POST {ORG_TOKENS}"),
        "revoke": calls(
            tokens.revoke_token, f"DELETE {USER}/tokens/{{token_id}}", f"DELETE {ORG_TOKENS}/{{token_id}}"
        ),
    },
)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``loopback`` command, under a help panel of their own."""
    app.command("whoami", cls=ApiCommand, rich_help_panel=PANEL)(
        calls(whoami, f"GET {USER}", "GET /v3/token")
    )
    app.add_typer(orgs_group, name="orgs", rich_help_panel=PANEL)
    app.add_typer(projects_group, name="projects", rich_help_panel=PANEL)
    app.add_typer(members_group, name="members", rich_help_panel=PANEL)
    app.add_typer(tokens_group, name="tokens", rich_help_panel=PANEL)
    app.command("audit", cls=ApiCommand, rich_help_panel=PANEL)(calls(audit, f"GET {ORG}/audit-events"))
