"""``loopback --install-completion [SHELL]`` and ``--show-completion [SHELL]``: TAB completion in a shell.

Typer's own options find the shell among the process's parents (shellingham) and ignore a shell
named after them, so ``sh -c 'loopback --install-completion bash'`` (a Makefile, a Dockerfile's
``RUN``, a CI step) failed with "Shell sh is not supported". These take the shell's name; left
out, it is the shell running the command, else the login shell (``$SHELL``), else the user is told
to name one. Typer writes the script (bash: ``~/.bash_completions/loopback.sh``, sourced from
``~/.bashrc``) and Click answers each TAB through ``_LOOPBACK_COMPLETE``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._completion_classes import completion_init
from typer._completion_shared import Shells, _get_shell_name, get_completion_script, install
from typer.core import TyperGroup

PROG = "loopback"  # the command the script completes, however this process was started
COMPLETE_VAR = "_LOOPBACK_COMPLETE"  # what Click reads, from the name of the command it runs as
INSTALL = "--install-completion"
SHOW = "--show-completion"
SHELLS = ", ".join(s.value for s in Shells)


def detected_shell(ctx: Any, flag: str) -> str:
    """The shell running this command, else the login shell; a usage error naming the choices if neither."""
    running = _get_shell_name()
    if running in set(Shells):
        return str(running)
    login = Path(os.environ.get("SHELL", "")).name
    if login in set(Shells):
        return login
    found = ", ".join(repr(name) for name in (running, login) if name) or "none found"
    raise typer.BadParameter(
        f"cannot tell which shell to complete in ({found}; it completes {SHELLS}): "
        f"name it, e.g. `{PROG} {flag} bash`",
        ctx=ctx,
        param_hint=flag,
    )


class CompletingGroup(TyperGroup):
    """The ``loopback`` command: a completion option given last, with no shell, means the detected one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        completion_init()  # how each shell's TAB is answered; Typer registers it only for its own options
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args in ([INSTALL], [SHOW]) and not ctx.resilient_parsing:
            args = [*args, detected_shell(ctx, args[0])]
        return list(super().parse_args(ctx, args))


def _install(ctx: Any, shell: Shells | None) -> None:
    if shell is None or ctx.resilient_parsing:  # resilient: only completing the command line
        return
    _, path = install(shell=shell.value, prog_name=PROG, complete_var=COMPLETE_VAR)
    typer.echo(f"{shell.value} completion for `{PROG}` is in {path}; it works in a new terminal.")
    raise typer.Exit()


def _show(ctx: Any, shell: Shells | None) -> None:
    if shell is None or ctx.resilient_parsing:
        return
    typer.echo(get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell.value))
    raise typer.Exit()


InstallOption = Annotated[
    Shells | None,
    typer.Option(
        INSTALL,
        callback=_install,
        is_eager=True,
        expose_value=False,
        show_default=False,
        metavar="[SHELL]",
        help=f"install TAB completion for this shell ({SHELLS}; the one you are in when left out)",
    ),
]
ShowOption = Annotated[
    Shells | None,
    typer.Option(
        SHOW,
        callback=_show,
        is_eager=True,
        expose_value=False,
        show_default=False,
        metavar="[SHELL]",
        help="print the completion script for this shell instead, to install it your own way",
    ),
]
