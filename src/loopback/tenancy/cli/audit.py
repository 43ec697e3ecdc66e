"""``loopback audit``: an organization's audit events, newest first, a page or (``--all``) every page."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loopback.client.http import every_row
from loopback.client.options import Options, with_options
from loopback.tenancy.cli.columns import AUDIT_EVENT
from loopback.tenancy.cli.options import ORG, in_org, project_option


@with_options(ORG, project_option("only this project (slug or id)"))
def audit(
    options: Options,
    limit: Annotated[int, typer.Option(min=1, max=500, help="events per page")] = 50,
    action: Annotated[
        str | None, typer.Option(help="only this action, e.g. member.add", show_default=False)
    ] = None,
    outcome: Annotated[str | None, typer.Option(help="succeeded or denied", show_default=False)] = None,
    cursor: Annotated[
        str | None, typer.Option(help="the next_cursor of the page before", show_default=False)
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="follow next_cursor through every page")] = False,
) -> None:
    """The organization's audit events, newest first."""
    path = in_org(options, "audit-events")
    params: dict[str, Any] = {
        "limit": limit,
        "action": action,
        "project": options.project,
        "outcome": outcome,
        "cursor": cursor,
    }
    empty = f"No audit events in {options.org!r}."
    show = options.printer()
    with options.api() as client:
        if not every:
            answer = client.get(path, params=params)
            show.rows(answer, "events", AUDIT_EVENT, empty)
            if answer.body.get("next_cursor"):
                show.note(f"More events: --cursor {answer.body['next_cursor']}, or --all for every page.")
            return
        events = every_row(client, path, "events", params)
    if show.json:
        show.document({"events": events, "next_cursor": None})
    else:
        show.table(events, AUDIT_EVENT, empty)
