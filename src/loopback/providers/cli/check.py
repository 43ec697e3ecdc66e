"""``loopback providers test``: a timed round trip at a provider; exit 0 when every step passed, 1 if not."""

from __future__ import annotations

from typing import Annotated

import typer

from loopback.client.errors import ExitCode
from loopback.client.http import v3
from loopback.client.options import Options, with_options
from loopback.providers.cli.columns import STEP
from loopback.providers.cli.inputs import NameArgument


@with_options()
def check_provider(
    options: Options,
    name: NameArgument,
    region: Annotated[
        str | None,
        typer.Option(help="the region to try; the first enabled one by default", show_default=False),
    ] = None,
) -> None:
    """A round trip: scratch bucket, key, write, read, delete, each step timed; exit 1 on failure."""
    with options.api() as client:
        answer = client.post(v3("operator", "providers", name, "test"), {"region": region})
    show = options.printer()
    if show.json:
        typer.echo(answer.text)
    else:
        show.table(answer.body.get("steps") or [], STEP, "No steps ran.")
    body = answer.body
    if body.get("ok"):
        show.note(f"Provider {name!r} passed in region {body.get('region')} ({body.get('total_ms')} ms).")
        return
    show.note(f"Provider {name!r} failed in region {body.get('region')}: {body.get('error')}")
    raise typer.Exit(int(ExitCode.REFUSED))
