"""Where a bucket command acts: the organization, the project, and the bucket a name stands for.

The organization and project come from ``--org``/``--project``, else ``LOOPBACK_ORG``/
``LOOPBACK_PROJECT``, else a project token's own (``GET /v3/token`` says which), else the only ones
the user has; a bucket is named by its id or by its name, and the live bucket of that name wins
over deleted or replaced ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from loopback.client.errors import ClientError, ExitCode
from loopback.client.http import ApiClient, every_row, v3
from loopback.client.options import Options, Shared

ORG_ENV = "LOOPBACK_ORG"
PROJECT_ENV = "LOOPBACK_PROJECT"
BUCKET_ID_PREFIX = "bkt_"
PAGE = 200

ORG = Shared(
    "org",
    Annotated[
        str | None,
        typer.Option(
            "--org",
            envvar=ORG_ENV,
            help="the organization's slug; when left out, a project token's own, else the only one "
            "you are a member of",
            show_default=False,
        ),
    ],
    None,
)
PROJECT = Shared(
    "project",
    Annotated[
        str | None,
        typer.Option(
            "--project",
            envvar=PROJECT_ENV,
            help="the project's slug; when left out, a project token's own, else the organization's "
            "only project",
            show_default=False,
        ),
    ],
    None,
)
BucketArgument = Annotated[str, typer.Argument(help="the bucket's name, or its id (bkt_...)")]


@dataclass(frozen=True)
class Place:
    """The organization and project a bucket command acts in."""

    org: str
    project: str

    def __str__(self) -> str:
        return f"{self.org}/{self.project}"

    def buckets(self, *segments: str) -> str:
        return v3("organizations", self.org, "projects", self.project, "buckets", *segments)


def _choose(kind: str, slugs: Sequence[str], flag: str, env: str, none: str) -> str:
    if len(slugs) == 1:
        return slugs[0]
    if not slugs:
        raise ClientError(f"there is no {kind} to act in", ExitCode.USAGE, [none])
    raise ClientError(
        f"which {kind}? there are {len(slugs)}: {', '.join(slugs)}",
        ExitCode.USAGE,
        [f"pass {flag} SLUG or set {env}"],
    )


def _listed(client: ApiClient, path: str, key: str) -> list[str]:
    return [str(row.get("slug")) for row in client.get(path).body.get(key) or []]


def token_place(client: ApiClient) -> Place | None:
    """A project token's own organization and project, the only place it acts; None for a personal one."""
    token = client.get(v3("token")).body
    if token.get("kind") != "project" or not token.get("organization") or not token.get("project"):
        return None
    return Place(str(token["organization"]), str(token["project"]))


def _within(own: Place, org: str | None, project: str | None) -> Place:
    """A project token's place, unless --org or --project names another (which it cannot reach)."""
    asked = Place(org or own.org, project or own.project)
    if asked != own:
        raise ClientError(
            f"this project token acts in {own} only, not in {asked}",
            ExitCode.USAGE,
            [f"leave out --org and --project (and {ORG_ENV}, {PROJECT_ENV}), or use a token of {asked}"],
        )
    return own


def _only_organization(client: ApiClient) -> str:
    return _choose(
        "organization",
        _listed(client, v3("user"), "organizations"),
        "--org",
        ORG_ENV,
        "create one with `loopback orgs create SLUG`, or ask an organization's owner to add you",
    )


def organization(client: ApiClient, org: str | None) -> str:
    """``--org`` as given, else a project token's, else the only one the token's user is a member of."""
    if org:
        return org
    own = token_place(client)
    return own.org if own is not None else _only_organization(client)


def place(client: ApiClient, org: str | None, project: str | None) -> Place:
    """The organization and project from the flags, the environment, a project token, or the only ones.

    Both given cost no request; else ``GET /v3/token`` comes first, and a personal token goes on
    to its user's organizations and the organization's projects as before.
    """
    if org and project:
        return Place(org, project)
    own = token_place(client)
    if own is not None:
        return _within(own, org, project)
    org = org or _only_organization(client)
    if project:
        return Place(org, project)
    slug = _choose(
        "project",
        _listed(client, v3("organizations", org, "projects"), "projects"),
        "--project",
        PROJECT_ENV,
        f"create one with `loopback projects create SLUG --org {org}`",
    )
    return Place(org, slug)


@contextmanager
def in_project(options: Options) -> Iterator[tuple[ApiClient, Place]]:
    """A client, and the organization and project the command acts in (``place``), for one command."""
    with options.api() as client:
        yield client, place(client, options.org, options.project)


def every_bucket(client: ApiClient, where: Place, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every bucket row of the project that matches ``filters``, oldest first, page after page."""
    return every_row(client, where.buckets(), "buckets", {**filters, "limit": PAGE})


def is_live(bucket: Mapping[str, Any]) -> bool:
    return bucket.get("superseded_by") is None and bucket.get("status") != "deleted"


def bucket_ids(client: ApiClient, where: Place, references: Sequence[str]) -> list[str]:
    """The id of each bucket named (an id passes as it is): the live one of a name, else the newest.

    The project's buckets are listed once for all the names, and not at all for ids alone.
    """
    listing: list[dict[str, Any]] | None = None
    found = []
    for reference in references:
        if reference.startswith(BUCKET_ID_PREFIX):
            found.append(reference)  # a bucket name has no underscore, so an id is never a name
            continue
        if listing is None:
            listing = every_bucket(client, where, {})
        named = [b for b in listing if b.get("name") == reference]
        if not named:
            raise ClientError(
                f"no bucket named {reference!r} in {where}",
                ExitCode.REFUSED,
                ["`loopback buckets list` shows them (--org and --project for another project)"],
            )
        found.append(str(([b for b in named if is_live(b)] or named)[-1]["id"]))
    return found


def bucket_id(client: ApiClient, where: Place, reference: str) -> str:
    """The id of the bucket named ``reference`` (an id passes as it is): the live one, else the newest."""
    return bucket_ids(client, where, [reference])[0]
