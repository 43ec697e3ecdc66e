"""``loopback providers list|show|add|update|enable|disable|test``: the operator's provider routes.

Each command is one request to ``/v3/operator/providers`` through ``loopback.client``, which
owns the connection, exit codes, rendering and the options every command shares; the API
validates everything. Secrets never go on the command line, where shell history and ``ps`` would
keep them: each is read from an environment variable the command names
(``--secret-access-key-env VAR``, ``--secret api_token=VAR``, ``--slot NAME=KEY_ID:VAR``) or,
without one, asked for on the terminal without echo.

``test`` exits 0 when every step of the round trip passed and 1 when one failed.

The rooms: ``listing`` (list, show), ``configure`` (add, update, enable, disable) and ``check``
(test) hold the commands; ``inputs`` declares what the operator types and reads it (secrets from
the environment or the terminal, settings, slots, regions); ``columns`` is how a provider reads.
This module lists the commands, in the order the help shows them, with the API operations each one
reaches.
"""

from __future__ import annotations

import typer

from loopback.client.command import api_group
from loopback.client.operations import PROVIDER, PROVIDERS, calls
from loopback.providers.cli.check import check_provider
from loopback.providers.cli.configure import add_provider, disable_provider, enable_provider, update_provider
from loopback.providers.cli.listing import list_providers, show_provider

PANEL = "Providers (operator, API client)"

providers = api_group(
    "The installation's storage providers and their regions (operator only).",
    {
        "list": calls(list_providers, f"GET {PROVIDERS}"),
        "show": calls(show_provider, f"GET {PROVIDER}"),
        "add": calls(add_provider, f"POST {PROVIDERS}"),
        "update": calls(update_provider, f"PATCH {PROVIDER}"),
        "disable": calls(disable_provider, f"POST {PROVIDER}/disable"),
        "enable": calls(enable_provider, f"POST {PROVIDER}/enable"),
        "test": calls(check_provider, f"POST {PROVIDER}/test"),
    },
)


def register(app: typer.Typer) -> None:
    """Add ``loopback providers ...`` to the ``loopback`` command."""
    app.add_typer(providers, name="providers", rich_help_panel=PANEL)
