"""``loopback usage``: objects and bytes per project of an organization, or of one bucket.

Counts are as of each bucket's last sync; ``--refresh`` asks the API to count one bucket now and
follows it until the new count is in.
"""

from __future__ import annotations

from typing import Annotated

import typer

from loopback.buckets.cli.columns import BUCKET_USAGE, PROJECT_USAGE
from loopback.buckets.cli.place import ORG, PROJECT, bucket_id, in_project, organization
from loopback.buckets.cli.waiting import follow
from loopback.client.errors import ApiProblem
from loopback.client.http import v3
from loopback.client.options import Options, with_options

PROJECT_TOKEN_USAGE = (
    "a project token reads its own buckets: `loopback buckets list` shows each one's objects and size, "
    "`loopback usage BUCKET` one bucket's"
)


@with_options(ORG, PROJECT)
def usage(
    options: Options,
    bucket: Annotated[
        str | None,
        typer.Argument(
            help="one bucket (name or id); the organization's summary when left out", show_default=False
        ),
    ] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="count the bucket's objects now and wait for the result")
    ] = False,
    timeout: Annotated[float, typer.Option(min=0, help="seconds --refresh waits before exit 3")] = 120,
) -> None:
    """Objects and bytes per project of an organization, or of one bucket (--refresh counts anew)."""
    show = options.printer()
    if bucket is None:
        if refresh:
            raise typer.BadParameter("--refresh counts one bucket: name it", param_hint="BUCKET")
        with options.api() as client:
            slug = organization(client, options.org)
            try:
                answer = client.get(v3("organizations", slug, "usage"))
            except ApiProblem as problem:
                if problem.permission == "usage.read":  # every role has it: a project token does not
                    problem.hints.append(PROJECT_TOKEN_USAGE)
                raise
        if show.json:
            typer.echo(answer.text)
            return
        summary = answer.body
        rows = list(summary.get("projects") or [])
        if rows:
            oldest = [str(p["oldest_sync"]) for p in rows if p.get("oldest_sync")]
            total = {k: summary.get(k) for k in ("buckets", "object_count", "bytes")}
            rows.append({"project": "(total)", **total, "oldest_sync": min(oldest, default=None)})
        show.table(rows, PROJECT_USAGE, f"No live buckets in {slug!r}.")
        show.note(
            "Counts are as of each bucket's last sync; `loopback usage BUCKET --refresh` counts one now."
        )
        return
    with in_project(options) as (client, where):
        path = where.buckets(bucket_id(client, where, bucket))
        answer = client.get(path)
        if refresh:
            before = answer.body.get("usage", {}).get("last_synced_at")
            client.post(path + "/usage/refresh")
            answer = follow(
                client,
                path,
                label=f"usage of {answer.body.get('name')!r}",
                done=lambda b: b.get("usage", {}).get("last_synced_at") != before,
                describe=lambda b: "counting objects",
                timeout=timeout,
            )
    show.record(answer, BUCKET_USAGE)
