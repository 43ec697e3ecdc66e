"""``loopback credentials list|show``: a project's (or a bucket's) access keys, one key; never a secret."""

from __future__ import annotations

from typing import Annotated

import typer

from loopback.buckets.cli.place import ORG, PROJECT, bucket_id, in_project
from loopback.client.options import Options, with_options
from loopback.credentials.cli.columns import CREDENTIAL, CREDENTIAL_ROW, status_cell
from loopback.credentials.cli.keys import CredentialArgument, credential_id, every_credential, keys


@with_options(ORG, PROJECT)
def list_credentials(
    options: Options,
    bucket: Annotated[
        str | None,
        typer.Argument(help="only the keys reaching this bucket (name or id); the project's when left out"),
    ] = None,
) -> None:
    """The project's access keys (or a bucket's), with their buckets, modes and expiry; never a secret."""
    with in_project(options) as (client, where):
        path = (
            keys(where) if bucket is None else where.buckets(bucket_id(client, where, bucket), "credentials")
        )
        rows = every_credential(client, path)
    show = options.printer()
    if show.json:
        show.document({"credentials": rows, "next_cursor": None})
        return
    empty = (
        f"No credentials in {where}; `loopback credentials issue BUCKET` makes one."
        if bucket is None
        else f"No credentials for {bucket!r}; `loopback credentials issue {bucket}` makes one."
    )
    show.table([{**c, "status_cell": status_cell(c)} for c in rows], CREDENTIAL_ROW, empty)


@with_options(ORG, PROJECT)
def show_credential(options: Options, credential: CredentialArgument) -> None:
    """One access key: its buckets and modes, state, expiry and rotation; never its secret."""
    with in_project(options) as (client, where):
        answer = client.get(keys(where, credential_id(client, where, credential)))
    options.printer().record(answer, CREDENTIAL)
