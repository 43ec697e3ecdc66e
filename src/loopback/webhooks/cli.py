"""``loopback webhooks create|list|show|update|delete|rotate-secret|test|deliveries``.

A thin client of ``/v3/organizations/{org}/webhooks``: the API checks the URL and the event types
and keeps the log; ``create`` and ``rotate-secret`` print the signing secret, the one time it is
shown. ``--output json`` prints the API's answers as they came.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loopback.buckets.cli.place import ORG, organization
from loopback.client.command import api_group
from loopback.client.http import ApiClient, ApiResponse, every_row, v3
from loopback.client.operations import ORG as ORG_PATH
from loopback.client.operations import calls
from loopback.client.options import Options, with_options
from loopback.client.output import Column, ago

PANEL = "Webhooks (API client)"
HOOKS = ORG_PATH + "/webhooks"
HOOK = HOOKS + "/{webhook_id}"

WEBHOOK = [
    Column("id", "id"),
    Column("url", "url"),
    Column("events", "events", lambda events: ", ".join(events or []) or "all"),
    Column("enabled", "enabled"),
    Column("description", "description"),
    Column("created", "created_at", ago),
]
SECRET = Column("signing secret", "secret")
DELIVERY = [
    Column("id", "id"),
    Column("event", "event_type"),
    Column("event id", "event_id"),
    Column("bucket", "bucket"),
    Column("status", "status"),
    Column("attempts", "attempts"),
    Column("http", "last_status_code"),
    Column("error", "last_error"),
    Column("next attempt", "next_attempt_at", ago),
    Column("created", "created_at", ago),
]
WebhookArgument = Annotated[str, typer.Argument(help="the webhook's id (whk_...)")]
Events = Annotated[
    list[str] | None,
    typer.Option("--event", help="an event type to receive (repeat it), e.g. bucket.ready; none: all"),
]


def _path(client: ApiClient, options: Options, *segments: str) -> str:
    return v3("organizations", organization(client, options.org), "webhooks", *segments)


def _with_secret(options: Options, answer: ApiResponse) -> None:
    show = options.printer()
    if show.json:
        typer.echo(answer.text)
        return
    show.fields(answer.body, [*WEBHOOK, SECRET])
    show.note("The signing secret is shown this once: keep it where your receiver verifies signatures.")


@with_options(ORG)
def create(
    options: Options,
    url: Annotated[str, typer.Argument(help="the https:// URL deliveries are POSTed to")],
    events: Events = None,
    description: Annotated[str | None, typer.Option(help="what it is for", show_default=False)] = None,
) -> None:
    """Register an endpoint for the organization's bucket and key events; prints its signing secret."""
    with options.api() as client:
        body = {"url": url, "events": events or [], "description": description}
        answer = client.post(_path(client, options), body)
    _with_secret(options, answer)


@with_options(ORG)
def list_webhooks(options: Options) -> None:
    """The organization's webhooks."""
    with options.api() as client:
        answer = client.get(_path(client, options))
    options.printer().rows(answer, "webhooks", WEBHOOK, "No webhooks.")


@with_options(ORG)
def show(options: Options, webhook: WebhookArgument) -> None:
    """One webhook (never its secret)."""
    with options.api() as client:
        answer = client.get(_path(client, options, webhook))
    options.printer().record(answer, WEBHOOK)


@with_options(ORG)
def update(
    options: Options,
    webhook: WebhookArgument,
    url: Annotated[str | None, typer.Option(help="a new URL", show_default=False)] = None,
    events: Events = None,
    all_events: Annotated[bool, typer.Option("--all-events", help="receive every event type")] = False,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="deliver to it, or hold its deliveries")
    ] = None,
    description: Annotated[str | None, typer.Option(help="a new description", show_default=False)] = None,
) -> None:
    """Change a webhook's URL, event types or description; enable or disable it."""
    body: dict[str, Any] = {"url": url, "enabled": enabled, "description": description}
    body["events"] = [] if all_events else events
    with options.api() as client:
        answer = client.patch(
            _path(client, options, webhook), {k: v for k, v in body.items() if v is not None}
        )
    options.printer().record(answer, WEBHOOK)


@with_options(ORG)
def delete(options: Options, webhook: WebhookArgument) -> None:
    """Delete a webhook: nothing more is delivered to it."""
    with options.api() as client:
        answer = client.delete(_path(client, options, webhook))
    options.printer().record(answer, WEBHOOK)


@with_options(ORG)
def rotate_secret(options: Options, webhook: WebhookArgument) -> None:
    """A new signing secret, used from the next attempt on; prints it this once."""
    with options.api() as client:
        answer = client.post(_path(client, options, webhook, "rotate-secret"), {})
    _with_secret(options, answer)


@with_options(ORG)
def test(options: Options, webhook: WebhookArgument) -> None:
    """Send a webhook.ping event now; `loopback webhooks deliveries` shows how it went."""
    with options.api() as client:
        answer = client.post(_path(client, options, webhook, "test"), {})
    options.printer().record(answer, DELIVERY)


@with_options(ORG)
def deliveries(
    options: Options,
    webhook: WebhookArgument,
    limit: Annotated[int, typer.Option(min=1, max=500, help="deliveries per page")] = 50,
    cursor: Annotated[
        str | None, typer.Option(help="the next_cursor of the page before", show_default=False)
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="follow next_cursor through every page")] = False,
) -> None:
    """A webhook's delivery log, newest first: status, attempts, the last answer, the next attempt."""
    params: dict[str, Any] = {"limit": limit, "cursor": cursor}
    show = options.printer()
    with options.api() as client:
        path = _path(client, options, webhook, "deliveries")
        if not every:
            answer = client.get(path, params=params)
            show.rows(answer, "deliveries", DELIVERY, "No deliveries yet.")
            if answer.body.get("next_cursor") and not show.json:
                show.note(f"More: --cursor {answer.body['next_cursor']}, or --all for every page.")
            return
        rows = every_row(client, path, "deliveries", params)
    if show.json:
        show.document({"deliveries": rows, "next_cursor": None})
    else:
        show.table(rows, DELIVERY, "No deliveries yet.")


webhooks = api_group(
    "Webhooks: signed CloudEvents of bucket and key events, sent to your HTTPS endpoints (docs/webhooks.md).",
    {
        "create": calls(create, f"POST {HOOKS}"),
        "list": calls(list_webhooks, f"GET {HOOKS}"),
        "show": calls(show, f"GET {HOOK}"),
        "update": calls(update, f"PATCH {HOOK}"),
        "delete": calls(delete, f"DELETE {HOOK}"),
        "rotate-secret": calls(rotate_secret, f"POST {HOOK}/rotate-secret"),
        "test": calls(test, f"POST {HOOK}/test"),
        "deliveries": calls(deliveries, f"GET {HOOK}/deliveries"),
    },
)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``loopback`` command, under a help panel of their own."""
    app.add_typer(webhooks, name="webhooks", rich_help_panel=PANEL)
