"""``loopback credentials issue``, and how a new key's secret is handed over, this once.

The secret goes to stdout with lines ready for a ``.env`` file or, with ``--format``, as exactly
the file the API renders for that tool and nothing else, so that ``> .env`` keeps the whole of it.
``rotate`` hands its new key over the same way.
"""

from __future__ import annotations

import enum
import shlex
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from loopback.buckets.cli.place import ORG, PROJECT, in_project
from loopback.client.http import ApiClient, ApiResponse
from loopback.client.options import Options, with_options
from loopback.client.output import OutputFormat, Printer
from loopback.credentials.cli.columns import ISSUED
from loopback.credentials.cli.keys import Access, grants, keys


class FileFormat(enum.StrEnum):
    """The files the API renders an issued key as (its ``?format=``)."""

    ENV = "env"
    AWS_CREDENTIALS = "aws-credentials"
    AWS_CONFIG = "aws-config"
    RCLONE = "rclone"
    S3CMD = "s3cmd"
    KUBERNETES = "kubernetes"


FormatOption = Annotated[
    FileFormat | None,
    typer.Option(
        "--format",
        help="print only the file this tool reads, as the API renders it (e.g. --format env > .env)",
        show_default=False,
    ),
]


def environment(issued: Mapping[str, Any]) -> list[str]:
    """``NAME=value`` lines an S3 client (boto3, the AWS CLI, rclone's env auth) reads."""
    region = issued.get("region")
    values = {
        "AWS_ACCESS_KEY_ID": issued.get("access_key_id"),
        "AWS_SECRET_ACCESS_KEY": issued.get("secret_access_key"),
        "AWS_ENDPOINT_URL": issued.get("endpoint"),
        "AWS_DEFAULT_REGION": region,  # what older SDKs and aws-cli v1 read
        "AWS_REGION": region,
    }
    return [f"{name}={shlex.quote(str(value))}" for name, value in values.items() if value]


def handover_file(client: ApiClient, path: str, body: Mapping[str, Any], fmt: FileFormat) -> str:
    """POST for a key answered as a tool's file (``?format=``): its text exactly as the API sent it."""
    answer = client.request(
        "POST",
        path,
        json=body,
        params={"format": fmt.value},
        accept="text/plain, application/yaml, application/problem+json",
    )
    return answer.text


def file_note(show: Printer, fmt: FileFormat) -> None:
    show.note(f"The secret access key in this {fmt.value} file is shown this once; store it now.")


def hand_over(show: Printer, answer: ApiResponse) -> None:
    """A new key as the API answered it (with ``--output json``), or as a record and ``.env`` lines."""
    issued = answer.body
    if show.json:
        typer.echo(answer.text)
    else:
        show.fields(issued, ISSUED)
    show.note("The secret access key is shown this once and cannot be shown again; store it now.")
    if not show.json:
        show.note("Paste these lines into a .env file (or prefix each with `export` in a shell):")
        for line in environment(issued):
            typer.echo(line)


def one_of(fmt: FileFormat | None, output: OutputFormat) -> None:
    if fmt is not None and output is OutputFormat.JSON:
        raise typer.BadParameter("--format prints a tool's file, --output json the API's JSON: pick one")


@with_options(ORG, PROJECT)
def issue_credential(
    options: Options,
    buckets: Annotated[
        list[str],
        typer.Argument(
            help="the buckets the key reaches (name or id), each optionally BUCKET:MODE "
            "(read-write, read-only, write-only) to override --access",
            metavar="BUCKET[:MODE]",
            show_default=False,
        ),
    ],
    name: Annotated[
        str | None, typer.Option(help="what the key is for, shown in lists", show_default=False)
    ] = None,
    access: Annotated[
        Access | None,
        typer.Option(help="what the key may do in each bucket (default read-write)", show_default=False),
    ] = None,
    prefix: Annotated[
        str | None,
        typer.Option(help="only object keys under this prefix (literal), e.g. backups/", show_default=False),
    ] = None,
    expires_in_days: Annotated[
        int | None,
        typer.Option(min=1, max=3650, help="revoke the key this many days from now", show_default=False),
    ] = None,
    expires_at: Annotated[
        str | None,
        typer.Option(
            help="revoke the key at this ISO 8601 time, e.g. 2026-01-31T00:00:00Z", show_default=False
        ),
    ] = None,
    fmt: FormatOption = None,
) -> None:
    """Issue an access key over one or more buckets; its secret is printed this once.

    Every bucket gets the same --access and --prefix, unless BUCKET:MODE names its mode. A key
    with a different prefix per bucket is issued through the API (POST .../credentials with
    "grants").
    """
    one_of(fmt, options.output)
    if expires_in_days is not None and expires_at is not None:
        raise typer.BadParameter("give --expires-in-days or --expires-at, not both")
    expiry = {"expires_in_days": expires_in_days, "expires_at": expires_at}
    show = options.printer()
    with in_project(options) as (client, where):
        asked = grants(client, where, buckets, access, prefix)
        if len(asked) == 1:  # the bucket's own route, as before keys had several buckets
            grant = asked[0]
            path = where.buckets(grant["bucket_id"], "credentials")
            body = {"name": name, "access": grant.get("access"), "prefix": prefix, **expiry}
        else:
            path = keys(where)
            body = {"name": name, "grants": asked, **expiry}
        if fmt is not None:
            typer.echo(handover_file(client, path, body, fmt), nl=False)
            file_note(show, fmt)
            return
        answer = client.post(path, body)
    hand_over(show, answer)
