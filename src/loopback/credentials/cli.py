"""``loopback credentials issue|list|show|rotate|update|revoke``: a project's S3 access keys, from a shell.

A thin client of the credential routes of API v3. Buckets are named as ``loopback buckets`` names
them (name or id; organization and project from the flags, the environment or the only ones there
are). A credential is named by its id (``crd_...``) or its access key id, found in the project's
list of keys.

``issue`` and ``rotate`` print the secret this once: with lines ready for a ``.env`` file, or, with
``--format``, exactly the file the API renders for that tool (``env``, ``aws-credentials``,
``aws-config``, ``rclone``, ``s3cmd``, ``kubernetes``) and nothing else on stdout, so that
``loopback credentials issue my-bucket --format env > .env`` is the whole job.
"""

from __future__ import annotations

import enum
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from loopback.buckets.cli import (
    BUCKET_ID_PREFIX,
    ORG,
    PAGE,
    PANEL,
    PROJECT,
    Place,
    bucket_id,
    every_bucket,
    in_project,
    is_live,
    when,
)
from loopback.client.command import ApiCommand
from loopback.client.errors import ClientError, ExitCode
from loopback.client.http import ApiClient, v3
from loopback.client.options import YES, Options, with_options
from loopback.client.output import Column, OutputFormat, Printer, ago

CREDENTIAL_ID_PREFIX = "crd_"
DEFAULT_GRACE_SECONDS = 86400
MAX_GRACE_SECONDS = 30 * 86400


class Access(enum.StrEnum):
    """What a key may do in a bucket (the API's ``access`` of a grant)."""

    READ_WRITE = "read-write"
    READ_ONLY = "read-only"
    WRITE_ONLY = "write-only"


class FileFormat(enum.StrEnum):
    """The files the API renders an issued key as (its ``?format=``)."""

    ENV = "env"
    AWS_CREDENTIALS = "aws-credentials"
    AWS_CONFIG = "aws-config"
    RCLONE = "rclone"
    S3CMD = "s3cmd"
    KUBERNETES = "kubernetes"


# --- rendering -----------------------------------------------------------------------------------


def grant_text(grant: Mapping[str, Any]) -> str:
    """One grant for a table: ``logs (read-only)``, ``logs (write-only, under backups/)``."""
    name = grant.get("bucket") or grant.get("bucket_id")
    prefix = grant.get("prefix")
    return f"{name} ({grant.get('access')}{f', under {prefix}' if prefix else ''})"


def grants_text(grants: Any) -> str:
    if not isinstance(grants, list) or not grants:
        return "-"
    return ", ".join(grant_text(g) for g in grants if isinstance(g, Mapping))


def _status_cell(credential: Mapping[str, Any]) -> str:
    # A rotating key's status says when the old key stops, which is what its reader wants to know.
    status = str(credential.get("status"))
    if status == "rotating" and credential.get("revoke_at"):
        return f"rotating (ends {ago(credential['revoke_at'])})"
    return status


CREDENTIAL_ROW = [
    Column("id", "id"),
    Column("name", "name"),
    Column("access key id", "access_key_id"),
    Column("status", "status_cell"),
    Column("buckets", "grants", grants_text),
    Column("expires", "expires_at", ago),
    Column("created", "created_at", ago),
]
CREDENTIAL = [
    Column("id", "id"),
    Column("name", "name"),
    Column("access key id", "access_key_id"),
    Column("status", "status"),
    Column("buckets", "grants", grants_text),
    Column("provider", "provider"),
    Column("region", "region"),
    Column("expires", "expires_at", when),
    Column("old key ends", "revoke_at", when),
    Column("rotated from", "rotated_from"),
    Column("rotated to", "rotated_to"),
    Column("created", "created_at", when),
    Column("revoked", "revoked_at", when),
]
ISSUED = [
    Column("id", "id"),
    Column("name", "name"),
    Column("access key id", "access_key_id"),
    Column("buckets", "grants", grants_text),
    Column("endpoint", "endpoint"),
    Column("region", "region"),
    Column("expires", "expires_at", when),
]

credentials = typer.Typer(
    help="A project's S3 access keys: issue (the secret shown once), list, show, rotate, update, revoke.",
    no_args_is_help=True,
)

CredentialArgument = Annotated[str, typer.Argument(help="the credential's id (crd_...) or its access key id")]
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


# --- where: the project's keys, a bucket's keys --------------------------------------------------


def _present(values: Mapping[str, Any]) -> dict[str, Any]:
    # None means "leave it out", as ApiClient does for a body: the API's defaults apply.
    return {key: value for key, value in values.items() if value is not None}


def _keys(where: Place, *segments: str) -> str:
    return v3("organizations", where.org, "projects", where.project, "credentials", *segments)


def every_credential(client: ApiClient, path: str) -> list[dict[str, Any]]:
    """Every key the list at ``path`` answers, oldest first, page after page."""
    answer = client.get(path, params={"limit": PAGE})
    rows: list[dict[str, Any]] = list(answer.body.get("credentials") or [])
    while answer.body.get("next_cursor"):
        answer = client.get(path, params={"limit": PAGE, "cursor": answer.body["next_cursor"]})
        rows.extend(answer.body.get("credentials") or [])
    return rows


def credential_id(client: ApiClient, where: Place, reference: str) -> str:
    """A credential's id from its id (passed as it is) or its access key id (looked up in the project)."""
    if reference.startswith(CREDENTIAL_ID_PREFIX):
        return reference
    found = next(
        (c for c in every_credential(client, _keys(where)) if c.get("access_key_id") == reference), None
    )
    if found is None:
        raise ClientError(
            f"no credential {reference!r} in {where}",
            ExitCode.REFUSED,
            ["`loopback credentials list` shows them, with their ids and access key ids"],
        )
    return str(found["id"])


def bucket_ids(client: ApiClient, where: Place, references: Sequence[str]) -> list[str]:
    """The ids of the buckets named (by name or id), with one listing of the project for all names."""
    listing: list[dict[str, Any]] | None = None
    found = []
    for reference in references:
        if reference.startswith(BUCKET_ID_PREFIX):
            found.append(reference)
            continue
        if listing is None:
            listing = every_bucket(client, where, {})
        named = [b for b in listing if b.get("name") == reference]
        if not named:  # its own lookup, which names the error as `loopback buckets` does
            found.append(bucket_id(client, where, reference))
            continue
        found.append(str(([b for b in named if is_live(b)] or named)[-1]["id"]))
    return found


@dataclass(frozen=True)
class Grant:
    """One ``BUCKET`` or ``BUCKET:MODE`` argument."""

    bucket: str
    access: Access | None


def parse_grant(argument: str) -> Grant:
    """``logs`` or ``logs:read-only``; a bucket name or id never holds a colon."""
    bucket, colon, mode = argument.rpartition(":")
    if not colon:
        return Grant(argument, None)
    try:
        return Grant(bucket, Access(mode))
    except ValueError:
        raise typer.BadParameter(
            f"{argument!r}: the mode after ':' is one of {', '.join(a.value for a in Access)}",
            param_hint="BUCKET",
        ) from None


def _grants(
    client: ApiClient, where: Place, arguments: Sequence[str], access: Access | None, prefix: str | None
) -> list[dict[str, Any]]:
    parsed = [parse_grant(a) for a in arguments]
    ids = bucket_ids(client, where, [g.bucket for g in parsed])
    return [
        {"bucket_id": i, "access": (g.access or access), "prefix": prefix}
        for i, g in zip(ids, parsed, strict=True)
    ]


# --- the secret, once ----------------------------------------------------------------------------


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


def _hand_over(show: Printer, issued: Mapping[str, Any], columns: Sequence[Column], text: str) -> None:
    if show.json:
        typer.echo(text)
    else:
        show.fields(issued, columns)
    show.note("The secret access key is shown this once and cannot be shown again; store it now.")
    if not show.json:
        show.note("Paste these lines into a .env file (or prefix each with `export` in a shell):")
        for line in environment(issued):
            typer.echo(line)


def _one_of(fmt: FileFormat | None, output: OutputFormat) -> None:
    if fmt is not None and output is OutputFormat.JSON:
        raise typer.BadParameter("--format prints a tool's file, --output json the API's JSON: pick one")


# --- commands ------------------------------------------------------------------------------------


@credentials.command("issue", cls=ApiCommand)
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
    _one_of(fmt, options.output)
    if expires_in_days is not None and expires_at is not None:
        raise typer.BadParameter("give --expires-in-days or --expires-at, not both")
    expiry = {"expires_in_days": expires_in_days, "expires_at": expires_at}
    show = options.printer()
    with in_project(options) as (client, where):
        grants = _grants(client, where, buckets, access, prefix)
        if len(grants) == 1:  # the bucket's own route, as before keys had several buckets
            grant = grants[0]
            path = where.buckets(grant["bucket_id"], "credentials")
            body = {"name": name, "access": grant["access"], "prefix": prefix, **expiry}
        else:
            path = _keys(where)
            body = {"name": name, "grants": [_present(g) for g in grants], **expiry}
        if fmt is not None:
            typer.echo(handover_file(client, path, body, fmt), nl=False)
            show.note(f"The secret access key in this {fmt.value} file is shown this once; store it now.")
            return
        answer = client.post(path, body)
    _hand_over(show, answer.body, ISSUED, answer.text)


@credentials.command("list", cls=ApiCommand)
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
            _keys(where) if bucket is None else where.buckets(bucket_id(client, where, bucket), "credentials")
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
    show.table([{**c, "status_cell": _status_cell(c)} for c in rows], CREDENTIAL_ROW, empty)


@credentials.command("show", cls=ApiCommand)
@with_options(ORG, PROJECT)
def show_credential(options: Options, credential: CredentialArgument) -> None:
    """One access key: its buckets and modes, state, expiry and rotation; never its secret."""
    with in_project(options) as (client, where):
        answer = client.get(_keys(where, credential_id(client, where, credential)))
    options.printer().record(answer, CREDENTIAL)


@credentials.command("rotate", cls=ApiCommand)
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
    _one_of(fmt, options.output)
    show = options.printer()
    with in_project(options) as (client, where):
        old_id = credential_id(client, where, credential)
        path = _keys(where, old_id, "rotate")
        body = {"grace_seconds": grace_seconds}
        if fmt is not None:
            typer.echo(handover_file(client, path, body, fmt), nl=False)
            answer = None
        else:
            answer = client.post(path, body)
        old = client.get(_keys(where, old_id)).body
    if answer is None:
        show.note(f"The secret access key in this {fmt} file is shown this once; store it now.")
    else:
        _hand_over(show, answer.body, ISSUED, answer.text)
    if old.get("status") == "rotating" and old.get("revoke_at"):
        show.note(
            f"The old key {old.get('access_key_id')} ({old_id}) keeps working until "
            f"{when(old['revoke_at'])}; then it is revoked."
        )
    else:
        show.note(f"The old key {old.get('access_key_id')} ({old_id}) is {old.get('status')}.")


@credentials.command("update", cls=ApiCommand)
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
            body["grants"] = [_present(g) for g in _grants(client, where, buckets, access, prefix)]
        answer = client.patch(_keys(where, found), body)
    options.printer().record(answer, CREDENTIAL)


@credentials.command("revoke", cls=ApiCommand)
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
            path = _keys(where, revoked)
            question = f"Revoke credential {credential} of {where}? It stops working at once."
        options.confirm(question)
        answer = client.delete(path)
    show = options.printer()
    show.record(answer, CREDENTIAL)
    show.note(f"Revoked credential {answer.body.get('id', revoked)} ({answer.body.get('access_key_id')}).")


def register(app: typer.Typer) -> None:
    """Add ``loopback credentials`` to the ``loopback`` command."""
    app.add_typer(credentials, name="credentials", rich_help_panel=PANEL)
