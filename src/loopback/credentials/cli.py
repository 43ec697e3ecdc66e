"""``loopback credentials issue|list|revoke``: a bucket's S3 access keys, from a shell.

A thin client of the credential routes of API v3; the bucket is named as ``loopback buckets``
names it (name or id, organization and project from the flags, the environment or the only ones
there are). ``issue`` prints the secret this once, with lines ready for a ``.env`` file.
"""

from __future__ import annotations

import shlex
from typing import Annotated, Any

import typer

from loopback.buckets.cli import (
    PANEL,
    BucketArgument,
    OrgOption,
    Place,
    ProjectOption,
    YesOption,
    bucket_id,
    place,
)
from loopback.kit.client import (
    ApiClient,
    ApiCommand,
    ApiUrlOption,
    ClientError,
    Column,
    ExitCode,
    OutputFormat,
    OutputOption,
    Printer,
    TokenOption,
    ago,
    api,
    confirm,
)

CREDENTIAL_ID_PREFIX = "crd_"

CREDENTIAL = [
    Column("id", "id"),
    Column("access key id", "access_key_id"),
    Column("status", "status"),
    Column("created", "created_at", ago),
    Column("revoked", "revoked_at", ago),
]
ISSUED = [
    Column("id", "id"),
    Column("access key id", "access_key_id"),
    Column("bucket", "bucket"),
    Column("endpoint", "endpoint"),
    Column("region", "region"),
]

credentials = typer.Typer(
    help="A bucket's S3 access keys: issue (the secret shown once), list, revoke.", no_args_is_help=True
)


def _path(where: Place, bucket: str, *segments: str) -> str:
    return where.buckets(bucket, "credentials", *segments)


def environment(issued: dict[str, Any]) -> list[str]:
    """``NAME=value`` lines an S3 client (boto3, the AWS CLI, rclone's env auth) reads."""
    values = {
        "AWS_ACCESS_KEY_ID": issued.get("access_key_id"),
        "AWS_SECRET_ACCESS_KEY": issued.get("secret_access_key"),
        "AWS_ENDPOINT_URL": issued.get("endpoint"),
        "AWS_REGION": issued.get("region"),
    }
    return [f"{name}={shlex.quote(str(value))}" for name, value in values.items() if value]


@credentials.command("issue", cls=ApiCommand)
def issue_credential(
    bucket: BucketArgument,
    org: OrgOption = None,
    project: ProjectOption = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Issue an access key for this bucket only; its secret is printed this once."""
    with api(api_url, token) as client:
        where = place(client, org, project)
        answer = client.post(_path(where, bucket_id(client, where, bucket)))
    show = Printer(output)
    show.record(answer, ISSUED)
    show.note("The secret access key is shown this once and cannot be shown again; store it now.")
    if not show.json:
        show.note("Paste these lines into a .env file (or prefix each with `export` in a shell):")
        for line in environment(answer.body):
            typer.echo(line)


@credentials.command("list", cls=ApiCommand)
def list_credentials(
    bucket: BucketArgument,
    org: OrgOption = None,
    project: ProjectOption = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """The bucket's access keys, active and revoked; never their secrets."""
    with api(api_url, token) as client:
        where = place(client, org, project)
        answer = client.get(_path(where, bucket_id(client, where, bucket)))
    Printer(output).rows(
        answer,
        "credentials",
        CREDENTIAL,
        f"No credentials for {bucket!r}; `loopback credentials issue` makes one.",
    )


def credential_id(client: ApiClient, where: Place, bucket: str, reference: str) -> str:
    """A credential's id from its id or its access key id."""
    if reference.startswith(CREDENTIAL_ID_PREFIX):
        return reference
    listed = client.get(_path(where, bucket)).body.get("credentials") or []
    found = next((c for c in listed if c.get("access_key_id") == reference), None)
    if found is None:
        raise ClientError(
            f"bucket {bucket} has no credential {reference!r}",
            ExitCode.REFUSED,
            ["`loopback credentials list BUCKET` shows them"],
        )
    return str(found["id"])


@credentials.command("revoke", cls=ApiCommand)
def revoke_credential(
    bucket: BucketArgument,
    credential: Annotated[str, typer.Argument(help="the credential's id (crd_...) or its access key id")],
    yes: YesOption = False,
    org: OrgOption = None,
    project: ProjectOption = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Revoke an access key at the provider; it stops working at once."""
    with api(api_url, token) as client:
        where = place(client, org, project)
        found = bucket_id(client, where, bucket)
        revoked = credential_id(client, where, found, credential)
        confirm(f"Revoke credential {credential} of bucket {bucket!r}? It stops working at once.", yes)
        answer = client.delete(_path(where, found, revoked))
    show = Printer(output)
    show.record(answer, CREDENTIAL)
    show.note(f"Revoked credential {answer.body.get('id', revoked)} ({answer.body.get('access_key_id')}).")


def register(app: typer.Typer) -> None:
    """Add ``loopback credentials`` to the ``loopback`` command."""
    app.add_typer(credentials, name="credentials", rich_help_panel=PANEL)
