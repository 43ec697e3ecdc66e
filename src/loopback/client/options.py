"""The options every API command shares, declared here once and handed to a command as one ``Options``.

A command takes them with ``@with_options(...)`` and one parameter typed ``Options``, and declares
none of them itself. ``--api-url``, ``--token`` and ``--output`` come with every command; a command
group adds the ``--org``, ``--project`` or ``--yes`` it means as ``Shared`` options, each declared
once with the group's own help (one group requires an organization, another finds it when it is
left out). Typer reads them as options of the command itself, after its own, so they stand where
users type them: ``loopback credentials list --output json``, ``loopback buckets delete NAME --org
acme --yes``. (The options of a Typer callback on a group would have to come before the subcommand.)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import typer

from loopback.client.connection import API_URL_ENV, DEFAULT_API_URL, TOKEN_ENV, connect
from loopback.client.errors import ClientError, ExitCode
from loopback.client.http import ApiClient
from loopback.client.output import OutputFormat, Printer

CONNECTION_PANEL = "Connection"
ApiUrlOption = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        help=f"the API's base URL (env {API_URL_ENV}; default {DEFAULT_API_URL})",
        show_default=False,
        rich_help_panel=CONNECTION_PANEL,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        help=f"an API token (env {TOKEN_ENV}; else `loopback login`'s, then .loopback/bootstrap-token)",
        show_default=False,
        rich_help_panel=CONNECTION_PANEL,
    ),
]
OutputOption = Annotated[
    OutputFormat,
    typer.Option(
        "--output",
        "-o",
        help="table for people, json for scripts (the API's JSON as it came)",
        rich_help_panel=CONNECTION_PANEL,
    ),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")]


@dataclass(frozen=True)
class Options:
    """What a command was called with besides its own arguments: which API, as whom, shown how, where."""

    api_url: str | None = None
    token: str | None = None
    output: OutputFormat = OutputFormat.TABLE
    org: str | None = None
    project: str | None = None
    yes: bool = False

    @contextmanager
    def api(self) -> Iterator[ApiClient]:
        """A client for this command, from ``--api-url`` and ``--token`` and what stands behind them."""
        with ApiClient(connect(self.api_url, self.token)) as client:
            yield client

    def printer(self) -> Printer:
        return Printer(self.output)

    def confirm(self, question: str) -> None:
        """Ask before what cannot be undone, unless ``--yes``; declining exits 1.

        With no answer to read (a script, CI, ``< /dev/null``) it says that ``--yes`` is what such
        a run needs, instead of the bare ``Aborted.`` of a question nobody could answer.
        """
        if self.yes:
            return
        try:
            agreed = typer.confirm(question, err=True)
        except typer.Abort:  # end of input before any answer
            raise ClientError(
                "no answer to the question: standard input is not a terminal, or it ended; nothing was done",
                ExitCode.REFUSED,
                ["pass --yes (-y) to go ahead without asking"],
            ) from None
        if not agreed:
            raise typer.Abort()

    def required_org(self) -> str:
        """``--org`` of a command that requires it (Typer refuses the command without it)."""
        if self.org is None:
            raise typer.BadParameter("give the organization's slug", param_hint="--org")
        return self.org


@dataclass(frozen=True)
class Shared:
    """One of the ``Options`` as a command group declares it: the field it fills and its Typer option.

    ``declaration`` is ``Annotated[type, typer.Option(...)]``; without a ``default`` it is required.
    """

    field: Literal["api_url", "token", "output", "org", "project", "yes"]
    declaration: Any
    default: Any = inspect.Parameter.empty


CONNECTION = (
    Shared("api_url", ApiUrlOption, None),
    Shared("token", TokenOption, None),
    Shared("output", OutputOption, OutputFormat.TABLE),
)
YES = Shared("yes", YesOption, False)

Command = Callable[..., None]
KEYWORD = inspect.Parameter.KEYWORD_ONLY  # after the command's own parameters, whatever their defaults


def with_options(*extra: Shared) -> Callable[[Command], Command]:
    """Give a command ``--api-url``, ``--token``, ``--output`` and ``extra``, as its ``Options`` parameter.

    The command Typer sees takes the command's own parameters and then these options; when it runs,
    they are gathered into one ``Options`` and passed to the parameter annotated with that type.
    """
    shared = (*extra, *CONNECTION)

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.annotation is not Options]
        receivers = [p.name for p in signature.parameters.values() if p.annotation is Options]
        taken = {p.name for p in own} & {s.field for s in shared}
        if len(receivers) != 1 or taken:
            raise TypeError(
                f"{command.__name__}: one parameter typed Options receives the shared options, "
                f"and no parameter of its own is named like one ({', '.join(sorted(taken)) or 'none is'})"
            )
        flags = [
            inspect.Parameter(s.field, KEYWORD, default=s.default, annotation=s.declaration) for s in shared
        ]

        @functools.wraps(command)
        def run(**values: Any) -> None:
            options = Options(**{s.field: values.pop(s.field) for s in shared})
            command(**values, **{receivers[0]: options})

        parameters = [*own, *flags]
        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
        return run

    return decorate
