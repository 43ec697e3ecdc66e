"""``loopback buckets|regions|usage``: the bucket routes of API v3, from a shell.

Each command is a thin client of the API through ``loopback.client`` (connection, exit codes,
rendering, the options every command shares); the API decides and validates everything. Three
conveniences cost extra requests:

- The organization and project come from ``--org``/``--project``, else ``LOOPBACK_ORG``/
  ``LOOPBACK_PROJECT``, else the only organization you are a member of and its only project
  (``GET /v3/user``, ``GET .../projects``); when there is more than one the command stops and
  asks for the flag.
- A bucket is named by its id (``bkt_...``) or by its name, looked up in the project's list; the
  live bucket of that name wins over deleted or replaced ones.
- ``--wait`` polls the bucket (a spinner on a terminal, a line per change otherwise, on stderr)
  until it is ready or deleted (exit 0), failed or lost (exit 1, with the reason), or
  ``--timeout`` passes (exit 3: the API keeps working on it).

Tables show sizes in binary units and times relative to now; ``--output json`` keeps the API's
raw values.

The rooms: ``place`` finds the organization, project and bucket a command acts in; ``waiting``
follows a bucket until it settles; ``columns`` is how a bucket reads in a table. The commands:
``create`` (create, validate, adopt, replace), ``listing`` (list, show, events), ``delete``,
``regions`` and ``usage``. This module lists them, in the order the help shows them, with the API
operations each one reaches (``loopback.client.operations``).
"""

from __future__ import annotations

import typer

from loopback.buckets.cli.create import adopt_bucket, create_bucket, replace_bucket, validate_bucket
from loopback.buckets.cli.delete import delete_bucket
from loopback.buckets.cli.listing import bucket_events, list_buckets, show_bucket
from loopback.buckets.cli.regions import regions
from loopback.buckets.cli.usage import usage
from loopback.client.command import ApiCommand, api_group
from loopback.client.operations import BUCKET, BUCKETS, ORG, calls

PANEL = "Buckets (API client)"  # the credentials commands stand under it too
buckets = api_group(
    "The buckets of a project: create, validate, adopt, list, show, delete, replace and their events.",
    {
        "create": calls(create_bucket, f"POST {BUCKETS}"),
        "validate": calls(validate_bucket, f"POST {BUCKETS}/validate"),
        "adopt": calls(adopt_bucket, f"POST {BUCKETS}/adopt"),
        "list": calls(list_buckets, f"GET {BUCKETS}"),
        "show": calls(show_bucket, f"GET {BUCKET}"),
        "delete": calls(delete_bucket, f"DELETE {BUCKET}"),
        "replace": calls(replace_bucket, f"POST {BUCKET}/replace"),
        "events": calls(bucket_events, f"GET {BUCKET}/events"),
    },
)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``loopback`` command, under a help panel of their own."""
    app.add_typer(buckets, name="buckets", rich_help_panel=PANEL)
    app.command("regions", cls=ApiCommand, rich_help_panel=PANEL)(calls(regions, "GET /v3/regions"))
    app.command("usage", cls=ApiCommand, rich_help_panel=PANEL)(
        calls(usage, f"GET {ORG}/usage", f"POST {BUCKET}/usage/refresh")
    )
