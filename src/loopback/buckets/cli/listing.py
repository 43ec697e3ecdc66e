"""``loopback buckets list|show|events``: a project's buckets, one bucket, and its history."""

from __future__ import annotations

from typing import Annotated

import typer

from loopback.buckets.cli.columns import BUCKET, BUCKET_ROW, EVENT
from loopback.buckets.cli.install import FilterOption, filters_of, link_of
from loopback.buckets.cli.place import ORG, PROJECT, BucketArgument, bucket_id, every_bucket, in_project
from loopback.buckets.cli.regions import REGIONS_HINT
from loopback.client.options import Options, with_options


@with_options(ORG, PROJECT)
def list_buckets(
    options: Options,
    status: Annotated[
        str | None,
        typer.Option(help="only this status: pending, provisioning, ready, failed, lost, deleting, deleted"),
    ] = None,
    provider: Annotated[str | None, typer.Option(help="only at this provider")] = None,
    region: Annotated[str | None, typer.Option(help="only in this region")] = None,
    install: FilterOption = None,
    every: Annotated[
        bool, typer.Option("--all", help="deleted and replaced buckets too, not only the live ones")
    ] = False,
) -> None:
    """The project's buckets, oldest first: the live ones, or with --all every one it ever had."""
    filters = {
        "status": status,
        "provider": provider,
        "region": region,
        "superseded": None if every else False,
        **filters_of(link_of(install)),
    }
    with in_project(options) as (client, where):
        rows = every_bucket(client, where, filters)
    if not every and status is None:
        rows = [b for b in rows if b.get("status") != "deleted"]
    show = options.printer()
    if show.json:
        show.document({"buckets": rows, "next_cursor": None})
        return
    empty = f"No buckets in {where}."
    if not (status or provider or region or install):
        empty += " Create one: `loopback buckets create NAME --provider P --region R`; " + REGIONS_HINT + "."
    show.table(rows, BUCKET_ROW, empty)


@with_options(ORG, PROJECT)
def show_bucket(options: Options, bucket: BucketArgument) -> None:
    """One bucket: status and why, endpoint, usage, history fields."""
    with in_project(options) as (client, where):
        answer = client.get(where.buckets(bucket_id(client, where, bucket)))
    options.printer().record(answer, BUCKET)


@with_options(ORG, PROJECT)
def bucket_events(options: Options, bucket: BucketArgument) -> None:
    """Every change of a bucket's status with its reason, newest first (--output json: oldest first)."""
    with in_project(options) as (client, where):
        answer = client.get(where.buckets(bucket_id(client, where, bucket), "events"))
    show = options.printer()
    if show.json:
        typer.echo(answer.text)  # the API's JSON as it came, for scripts
        return
    show.table(list(reversed(answer.body.get("events") or [])), EVENT, "No events.")
