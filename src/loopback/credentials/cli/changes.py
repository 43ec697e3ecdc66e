"""``loopback credentials rotate|update|revoke``: change a key that exists, or end it.

``rotate`` makes a new key and secret with the same buckets (handed over as ``issue`` hands one
over) and lets the old one work for a grace period; ``update`` renames a key or replaces its
buckets, keeping its secret; ``revoke`` ends it at once.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loopback.buckets.cli.columns import when
from loopback.buckets.cli.place import ORG, PROJECT, bucket_id, in_project
from loopback.client.options import YES, Options, with_options
from loopback.credentials.cli.columns import CREDENTIAL
from loopback.credentials.cli.issue import FormatOption, file_note, hand_over, handover_file, one_of
from loopback.credentials.cli.keys import Access, CredentialArgument, credential_id, grants, keys

DEFAULT_GRACE_SECONDS = 86400
MAX_GRACE_SECONDS = 30 * 86400


@with_options(ORG, PROJECT)
def rotate_credential(
    options: Options,
    credential: CredentialArgument,
    grace_seconds: Annotated[
        int,
        typer.Option(
            min=0,
            max=MAX_GRACE_SECONDS,
            help="how long the old key keeps working (0 revokes it at once; at most 30 days)",
        ),
    ] = DEFAULT_GRACE_SECONDS,
    fmt: FormatOption = None,
) -> None:
    """A new access key and secret with the same buckets; the old key works for the grace period."""
    one_of(fmt, options.output)
    show = options.printer()
    with in_project(options) as (client, where):
        old_id = credential_id(client, where, credential)
        path = keys(where, old_id, "rotate")
        body = {"grace_seconds": grace_seconds}
        if fmt is not None:
            typer.echo(handover_file(client, path, body, fmt), nl=False)
            answer = None
        else:
            answer = client.post(path, body)
        old = client.get(keys(where, old_id)).body
    if answer is not None:
        hand_over(show, answer)
    elif fmt is not None:  # the file is out already; what it holds is said once the old key is known
        file_note(show, fmt)
    if old.get("status") == "rotating" and old.get("revoke_at"):
        show.note(
            f"The old key {old.get('access_key_id')} ({old_id}) keeps working until "
            f"{when(old['revoke_at'])}; then it is revoked."
        )
    else:
        show.note(f"The old key {old.get('access_key_id')} ({old_id}) is {old.get('status')}.")


@with_options(ORG, PROJECT)
def update_credential(
    options: Options,
    credential: CredentialArgument,
    name: Annotated[str | None, typer.Option(help="a new name", show_default=False)] = None,
    buckets: Annotated[
        list[str] | None,
        typer.Option(
            "--bucket",
            help="replace the key's buckets with these (repeat it; BUCKET:MODE names a mode)",
            metavar="BUCKET[:MODE]",
            show_default=False,
        ),
    ] = None,
    access: Annotated[
        Access | None,
        typer.Option(help="with --bucket: the mode of each (default read-write)", show_default=False),
    ] = None,
    prefix: Annotated[
        str | None, typer.Option(help="with --bucket: only object keys under this prefix", show_default=False)
    ] = None,
) -> None:
    """Rename an access key or replace its buckets; the key and its secret stay the same."""
    if name is None and not buckets:
        raise typer.BadParameter("say what changes: --name, --bucket or both")
    if not buckets and (access is not None or prefix is not None):
        raise typer.BadParameter("--access and --prefix go with --bucket")
    with in_project(options) as (client, where):
        found = credential_id(client, where, credential)
        body: dict[str, Any] = {"name": name}
        if buckets:
            body["grants"] = grants(client, where, buckets, access, prefix)
        answer = client.patch(keys(where, found), body)
    options.printer().record(answer, CREDENTIAL)


@with_options(ORG, PROJECT, YES)
def revoke_credential(
    options: Options,
    references: Annotated[
        list[str],
        typer.Argument(
            help="the credential's id (crd_...) or access key id; a bucket before it (name or id) "
            "revokes through that bucket, as before keys had several buckets",
            metavar="[BUCKET] CREDENTIAL",
            show_default=False,
        ),
    ],
) -> None:
    """Revoke an access key at the provider; it stops working at once, for every bucket it reaches."""
    if len(references) > 2:
        raise typer.BadParameter("give CREDENTIAL, or BUCKET CREDENTIAL", param_hint="[BUCKET] CREDENTIAL")
    *bucket, credential = references
    with in_project(options) as (client, where):
        revoked = credential_id(client, where, credential)
        if bucket:
            path = where.buckets(bucket_id(client, where, bucket[0]), "credentials", revoked)
            question = f"Revoke credential {credential} of bucket {bucket[0]!r}? It stops working at once."
        else:
            path = keys(where, revoked)
            question = f"Revoke credential {credential} of {where}? It stops working at once."
        options.confirm(question)
        answer = client.delete(path)
    show = options.printer()
    show.record(answer, CREDENTIAL)
    show.note(f"Revoked credential {answer.body.get('id', revoked)} ({answer.body.get('access_key_id')}).")
