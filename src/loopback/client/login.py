"""``loopback login|logout``: keep an API URL and token for later commands, readable by this user alone.

``login`` checks the token with ``GET /v3/token`` before storing anything, then writes
``{"api_url": ..., "token": ...}`` to ``login.json`` in the user config directory (see
``loopback.client.connection.LoginFile``): the directory mode 0700, the file 0600. The token is
never printed. Later commands find it after ``--token`` and ``LOOPBACK_TOKEN``, and call the stored
URL with whichever token they send, unless ``--api-url`` or ``LOOPBACK_API_URL`` names another.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from loopback.client.command import ApiCommand
from loopback.client.connection import API_URL_ENV, DEFAULT_API_URL, Connection, LoginFile, checked_url
from loopback.client.errors import ApiProblem, ClientError, ExitCode
from loopback.client.http import ApiClient, v3
from loopback.client.options import CONNECTION_PANEL, ApiUrlOption

PANEL = "Connection (API client)"
ORIGIN = "`loopback login`"


def login(
    api_url: ApiUrlOption = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="the API token (lbk_...); when left out, asked for without echo, or read from a pipe",
            show_default=False,
            rich_help_panel=CONNECTION_PANEL,
        ),
    ] = None,
) -> None:
    """Check an API token and store it with the API's URL for the next commands (mode 0600)."""
    url = checked_url(api_url or os.environ.get(API_URL_ENV) or DEFAULT_API_URL)
    token = (token or _asked_for(url)).strip()
    with ApiClient(Connection(url, token, ORIGIN)) as client:
        try:
            known = client.get(v3("token")).body
        except ApiProblem as problem:
            if problem.status == 401:
                raise ClientError(
                    f"the API at {url} refused this token: it is unknown, revoked or expired (401); "
                    "nothing was stored",
                    ExitCode.AUTH,
                    ["an operator issues a first token with `loopback admin token EMAIL`"],
                ) from None
            raise
    source = LoginFile()
    path = source.save(url, token)
    user = known.get("user") or {}
    who = user.get("email") or f"a project token of {known.get('organization')}/{known.get('project')}"
    typer.echo(f"Logged in to {url} as {who}; the token is stored in {path} (mode 0600).", err=True)


def _asked_for(url: str) -> str:
    """The token typed without echo at a terminal, or the first line of a pipe (``... | loopback login``).

    ``getpass`` on a pipe cannot hide anything and warns (``GetPassWarning``) that it echoes.
    """
    if sys.stdin.isatty():
        return str(typer.prompt(f"API token for {url}", hide_input=True, err=True))
    line = sys.stdin.readline().strip()
    if not line:
        raise ClientError(
            "no API token: standard input is not a terminal and its first line is empty",
            ExitCode.USAGE,
            ["pass --token TOKEN, or pipe the token in: `loopback login < token-file`"],
        )
    return line


def logout() -> None:
    """Forget the stored URL and token; the token itself stays valid until revoked."""
    source = LoginFile()
    path = source.path()
    if not source.remove():
        typer.echo(f"Not logged in: there is no {path}.", err=True)
        return
    typer.echo(
        f"Removed {path}. The token still works until revoked: `loopback tokens revoke TOKEN_ID`.",
        err=True,
    )


def register(app: typer.Typer) -> None:
    """Add ``login`` and ``logout`` to the ``loopback`` command."""
    app.command("login", cls=ApiCommand, rich_help_panel=PANEL)(login)
    app.command("logout", rich_help_panel=PANEL)(logout)
