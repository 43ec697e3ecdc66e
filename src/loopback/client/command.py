"""How a ``loopback`` command that calls the API ends when it cannot: a message and an exit code."""

from __future__ import annotations

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
