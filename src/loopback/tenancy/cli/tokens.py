"""``loopback tokens list|create|revoke``: your personal tokens or, with ``--org``, project tokens.

A project token acts inside one project only; ``--project`` alone names one in the organization
of ``LOOPBACK_ORG``. A new token is printed this once; lists never show a token itself.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from loopback.client.http import v3
from loopback.client.options import Options, Shared, with_options
from loopback.tenancy.cli.columns import PERSONAL_TOKEN, PROJECT_TOKEN, TOKEN
from loopback.tenancy.cli.options import ORG_ENV, ROLES, project_option

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
TOKENS_OF_PROJECT = project_option("only this project's tokens")
TOKEN_PROJECT = project_option("the project's slug")
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


@with_options(TOKENS_ORG, TOKENS_OF_PROJECT)
def list_tokens(options: Options) -> None:
    """Your personal tokens or, with --org, the organization's project tokens; never the tokens themselves."""
    org = _token_organization(options)
    path = v3("user", "tokens") if org is None else v3("organizations", org, "tokens")
    with options.api() as client:
        answer = client.get(path, params={"project": options.project})
    columns = PERSONAL_TOKEN if org is None else PROJECT_TOKEN
    options.printer().rows(answer, "tokens", columns, "No tokens.")


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
