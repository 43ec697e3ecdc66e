"""Which key and which buckets a credentials command means.

A key is named by its id (``crd_...``) or its access key id, looked up in the project's keys page
after page; the buckets a key reaches by ``BUCKET`` or ``BUCKET:MODE`` arguments, a bucket named as
``loopback buckets`` names it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from loopback.buckets.cli.place import PAGE, Place, bucket_ids
from loopback.client.errors import ClientError, ExitCode
from loopback.client.http import ApiClient, every_row, present, v3

CREDENTIAL_ID_PREFIX = "crd_"

CredentialArgument = Annotated[str, typer.Argument(help="the credential's id (crd_...) or its access key id")]


class Access(enum.StrEnum):
    """What a key may do in a bucket (the API's ``access`` of a grant)."""

    READ_WRITE = "read-write"
    READ_ONLY = "read-only"
    WRITE_ONLY = "write-only"


def keys(where: Place, *segments: str) -> str:
    """The path of the project's keys, or of one of them."""
    return v3("organizations", where.org, "projects", where.project, "credentials", *segments)


def every_credential(client: ApiClient, path: str) -> list[dict[str, Any]]:
    """Every key the list at ``path`` answers, oldest first, page after page."""
    return every_row(client, path, "credentials", {"limit": PAGE})


def credential_id(client: ApiClient, where: Place, reference: str) -> str:
    """A credential's id from its id (passed as it is) or its access key id (looked up in the project)."""
    if reference.startswith(CREDENTIAL_ID_PREFIX):
        return reference
    found = next(
        (c for c in every_credential(client, keys(where)) if c.get("access_key_id") == reference), None
    )
    if found is None:
        raise ClientError(
            f"no credential {reference!r} in {where}",
            ExitCode.REFUSED,
            ["`loopback credentials list` shows them, with their ids and access key ids"],
        )
    return str(found["id"])


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


def grants(
    client: ApiClient, where: Place, arguments: Sequence[str], access: Access | None, prefix: str | None
) -> list[dict[str, Any]]:
    """The grants ``BUCKET[:MODE]`` arguments ask for, each with ``--access`` unless it names its mode.

    What is not given is left out, so the API's defaults apply.
    """
    parsed = [parse_grant(a) for a in arguments]
    ids = bucket_ids(client, where, [g.bucket for g in parsed])
    return [
        present({"bucket_id": i, "access": (g.access or access), "prefix": prefix})
        for i, g in zip(ids, parsed, strict=True)
    ]
