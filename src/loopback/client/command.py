"""How a ``loopback`` command that calls the API ends when it cannot: a message and an exit code.

``api_group`` makes a group of such commands, so that a domain's ``cli`` package lists its commands
in one place, in the order its help shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import typer
from typer.core import TyperCommand

from loopback.client.errors import ApiProblem, ClientError
from loopback.client.output import OutputFormat


def report(error: ClientError, output: object) -> None:
    """Tell the user what went wrong on stderr; a script asking for JSON gets the problem on stdout."""
    if isinstance(error, ApiProblem) and output == OutputFormat.JSON and error.body:
        typer.echo(error.body)
    for line in error.lines():
        typer.echo(line, err=True)


class ApiCommand(TyperCommand):
    """A command that calls the API: a ``ClientError`` ends it with its message and exit code."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click.Context, which typer does not export
        try:
            return super().invoke(ctx)
        except ClientError as error:
            report(error, ctx.params.get("output"))
            raise typer.Exit(int(error.exit_code)) from None


def api_group(help_text: str, commands: Mapping[str, Callable[..., None]]) -> typer.Typer:
    """A command group (``loopback NOUN VERB``) of commands that call the API, named and in this order."""
    group = typer.Typer(help=help_text, no_args_is_help=True)
    for name, command in commands.items():
        group.command(name, cls=ApiCommand)(command)
    return group
