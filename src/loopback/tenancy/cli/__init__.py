"""``loopback whoami|orgs|projects|members|tokens|audit``: the tenancy routes of API v3, from a shell.

Each command is one request (``audit --all`` one per page) through ``loopback.client``, which
owns the connection, the exit codes, the rendering and the options every command shares; the API
decides and validates everything.

The rooms: ``organizations`` (``whoami`` and ``orgs``), ``projects``, ``members``, ``tokens`` and
``audit`` hold the commands; ``options`` the options several of them share, ``columns`` how
their answers read in a table. This module lists the commands, in the order the help shows them.
"""

from __future__ import annotations

import typer

from loopback.client.command import ApiCommand, api_group
from loopback.tenancy.cli import members, organizations, projects, tokens
from loopback.tenancy.cli.audit import audit
from loopback.tenancy.cli.organizations import whoami

PANEL = "Organizations and access (API client)"

orgs_group = api_group(
    "Organizations you are a member of: list, create, show, rename, delete.",
    {
        "list": organizations.list_organizations,
        "create": organizations.create_organization,
        "show": organizations.show_organization,
        "rename": organizations.rename_organization,
        "delete": organizations.delete_organization,
    },
)
projects_group = api_group(
    "The projects of an organization.",
    {
        "list": projects.list_projects,
        "create": projects.create_project,
        "show": projects.show_project,
        "rename": projects.rename_project,
        "delete": projects.delete_project,
    },
)
members_group = api_group(
    "The members of an organization and their roles.",
    {
        "list": members.list_members,
        "add": members.add_member,
        "set-role": members.set_member_role,
        "remove": members.remove_member,
    },
)
tokens_group = api_group(
    "Personal tokens (yours) or, with --org, an organization's project tokens.",
    {"list": tokens.list_tokens, "create": tokens.create_token, "revoke": tokens.revoke_token},
)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``loopback`` command, under a help panel of their own."""
    app.command("whoami", cls=ApiCommand, rich_help_panel=PANEL)(whoami)
    app.add_typer(orgs_group, name="orgs", rich_help_panel=PANEL)
    app.add_typer(projects_group, name="projects", rich_help_panel=PANEL)
    app.add_typer(members_group, name="members", rich_help_panel=PANEL)
    app.add_typer(tokens_group, name="tokens", rich_help_panel=PANEL)
    app.command("audit", cls=ApiCommand, rich_help_panel=PANEL)(audit)
