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
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from loopback.client.command import ApiCommand
from loopback.client.errors import ApiProblem, ClientError, ExitCode
from loopback.client.http import ApiClient, ApiResponse, v3
from loopback.client.options import YES, Options, Shared, with_options
from loopback.client.output import Column, ago, human_bytes, shown
from loopback.kit.errors import BucketNotEmpty, Forbidden, Invalid

ORG_ENV = "LOOPBACK_ORG"
PROJECT_ENV = "LOOPBACK_PROJECT"
PANEL = "Buckets (API client)"
BUCKET_ID_PREFIX = "bkt_"
PAGE = 200
FIRST_POLL_SECONDS = 0.5
LAST_POLL_SECONDS = 2.0
REGIONS_HINT = "`loopback regions` lists the providers and regions to choose from"

ORG = Shared(
    "org",
    Annotated[
        str | None,
        typer.Option(
            "--org",
            envvar=ORG_ENV,
            help="the organization's slug; the only one you are a member of when left out",
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
            help="the project's slug; the organization's only project when left out",
            show_default=False,
        ),
    ],
    None,
)
BucketArgument = Annotated[str, typer.Argument(help="the bucket's name, or its id (bkt_...)")]
WaitOption = Annotated[
    bool, typer.Option("--wait", help="follow the bucket until it settles; exit 1 if it fails")
]
TimeoutOption = Annotated[
    float,
    typer.Option(min=0, help="seconds --wait follows the bucket before giving up with exit 3"),
]


# --- rendering -----------------------------------------------------------------------------------


def _usage(key: str, render: Callable[[Any], str] = shown) -> Callable[[Any], str]:
    return lambda usage: render(usage.get(key) if isinstance(usage, Mapping) else None)


def when(value: Any) -> str:
    """A timestamp with how long ago it was, for a record: ``2025-01-02 10:00:00Z (3 minutes ago)``."""
    return shown(value) if value is None else f"{shown(value)} ({ago(value)})"


def size(value: Any) -> str:
    """Bytes in binary units and exactly, for a record: ``1.0 KiB (1024 bytes)``."""
    return (
        human_bytes(value)
        if not isinstance(value, int) or value < 1024
        else f"{human_bytes(value)} ({value} bytes)"
    )


BUCKET_ROW = [
    Column("name", "name"),
    Column("status", "status"),
    Column("provider", "provider"),
    Column("region", "region"),
    Column("objects", "usage", _usage("object_count")),
    Column("size", "usage", _usage("bytes", human_bytes)),
    Column("id", "id"),
    Column("created", "created_at", ago),
]
BUCKET = [
    Column("name", "name"),
    Column("id", "id"),
    Column("status", "status"),
    Column("reason", "status_reason"),
    Column("provider", "provider"),
    Column("region", "region"),
    Column("endpoint", "endpoint"),
    Column("deletion policy", "deletion_policy"),
    Column("objects", "usage", _usage("object_count")),
    Column("size", "usage", _usage("bytes", size)),
    Column("usage synced", "usage", _usage("last_synced_at", when)),
    Column("created", "created_at", when),
    Column("updated", "updated_at", when),
    Column("attempts", "attempts"),
    Column("next attempt", "next_attempt_at", when),
    Column("supersedes", "supersedes"),
    Column("superseded by", "superseded_by"),
    Column("adopted", "adopted"),
]
EVENT = [
    Column("when", "created_at", ago),
    Column("event", "kind"),
    Column("status", "status"),
    Column("reason", "reason"),
]
REGION = [
    Column("provider", "provider"),
    Column("family", "family"),
    Column("region", "code"),
    Column("name", "name"),
    Column("endpoint", "endpoint"),
]
PROJECT_USAGE = [
    Column("project", "project"),
    Column("buckets", "buckets"),
    Column("objects", "object_count"),
    Column("size", "bytes", human_bytes),
    Column("oldest sync", "oldest_sync", ago),
]
BUCKET_USAGE = [
    Column("bucket", "name"),
    Column("id", "id"),
    Column("status", "status"),
    Column("objects", "usage", _usage("object_count")),
    Column("size", "usage", _usage("bytes", size)),
    Column("synced", "usage", _usage("last_synced_at", when)),
]


# --- where: organization, project, bucket --------------------------------------------------------


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


def _no_listing() -> ClientError:
    return ClientError(
        "this token cannot list where it may act (a project token?)",
        ExitCode.USAGE,
        [f"pass --org and --project, or set {ORG_ENV} and {PROJECT_ENV}"],
    )


def organization(client: ApiClient, org: str | None) -> str:
    """``--org`` as given, else the only organization the token's user is a member of."""
    if org:
        return org
    try:
        mine = client.get(v3("user")).body.get("organizations") or []
    except ApiProblem as problem:
        if problem.is_a(Forbidden):
            raise _no_listing() from None
        raise
    return _choose(
        "organization",
        [str(o.get("slug")) for o in mine],
        "--org",
        ORG_ENV,
        "create one with `loopback orgs create SLUG`, or ask an organization's owner to add you",
    )


def place(client: ApiClient, org: str | None, project: str | None) -> Place:
    """The organization and project from the flags, the environment, or the only ones there are."""
    org = organization(client, org)
    if project:
        return Place(org, project)
    try:
        projects = client.get(v3("organizations", org, "projects")).body.get("projects") or []
    except ApiProblem as problem:
        if problem.is_a(Forbidden):
            raise _no_listing() from None
        raise
    slug = _choose(
        "project",
        [str(p.get("slug")) for p in projects],
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
    path = where.buckets()
    answer = client.get(path, params={**filters, "limit": PAGE})
    rows: list[dict[str, Any]] = list(answer.body.get("buckets") or [])
    while answer.body.get("next_cursor"):
        answer = client.get(path, params={**filters, "limit": PAGE, "cursor": answer.body["next_cursor"]})
        rows.extend(answer.body.get("buckets") or [])
    return rows


def is_live(bucket: Mapping[str, Any]) -> bool:
    return bucket.get("superseded_by") is None and bucket.get("status") != "deleted"


def bucket_id(client: ApiClient, where: Place, reference: str) -> str:
    """The id of the bucket named ``reference`` (an id passes as it is): the live one, else the newest."""
    if reference.startswith(BUCKET_ID_PREFIX):
        return reference  # a bucket name has no underscore, so an id is never a name
    named = [b for b in every_bucket(client, where, {}) if b.get("name") == reference]
    live = [b for b in named if is_live(b)]
    if not named:
        raise ClientError(
            f"no bucket named {reference!r} in {where}",
            ExitCode.REFUSED,
            ["`loopback buckets list` shows them (--org and --project for another project)"],
        )
    return str((live or named)[-1]["id"])


# --- following a change --------------------------------------------------------------------------


def follow(
    client: ApiClient,
    path: str,
    *,
    label: str,
    done: Callable[[Mapping[str, Any]], bool],
    describe: Callable[[Mapping[str, Any]], str],
    timeout: float,
    hints: Sequence[str] = (),
) -> ApiResponse:
    """GET ``path`` until ``done`` says so, showing ``describe`` of it on stderr; exit 3 at ``timeout``.

    A terminal gets a spinner with the live state; a pipe or a log gets a line each time it changes.
    """
    deadline = time.monotonic() + timeout
    console = Console(stderr=True, highlight=False)
    delay = FIRST_POLL_SECONDS
    said: str | None = None
    with ExitStack() as stack:
        spinner = stack.enter_context(console.status(Text(label))) if console.is_terminal else None
        while True:
            answer = client.get(path)
            state = f"{label}: {describe(answer.body)}"
            if spinner is not None:
                spinner.update(Text(state))
            elif state != said:
                typer.echo(state, err=True)
            said = state
            if done(answer.body):
                return answer
            left = deadline - time.monotonic()
            if left <= 0:
                raise ClientError(
                    f"gave up waiting after {timeout:g} s; {state}",
                    ExitCode.UNAVAILABLE,
                    ["the API keeps working on it; wait longer with --timeout SECONDS", *hints],
                )
            time.sleep(min(delay, left))
            delay = min(delay * 1.5, LAST_POLL_SECONDS)


def status_of(bucket: Mapping[str, Any]) -> str:
    reason = bucket.get("status_reason")
    return f"{bucket.get('status')}: {reason}" if reason else str(bucket.get("status"))


def wait_for_bucket(
    client: ApiClient, where: Place, answer: ApiResponse, settled: set[str], timeout: float
) -> ApiResponse:
    bucket = answer.body
    name = str(bucket.get("name"))
    return follow(
        client,
        where.buckets(str(bucket["id"])),
        label=f"bucket {name!r}",
        done=lambda b: b.get("status") in settled,
        describe=status_of,
        timeout=timeout,
        hints=[f"`loopback buckets show {name}` shows where it stands"],
    )


def expect(answer: ApiResponse, wanted: str, hints: Sequence[str]) -> None:
    """After ``--wait``: exit 1 with the bucket's reason when it settled anywhere but ``wanted``."""
    bucket = answer.body
    if bucket.get("status") != wanted:
        raise ClientError(f"bucket {bucket.get('name')!r} is {status_of(bucket)}", ExitCode.REFUSED, hints)


def _not_empty(problem: ApiProblem, bucket: str) -> ApiProblem:
    """A refused delete said with this command's flags rather than the API's query parameters.

    A conflict is the one refusal a delete without ``force`` answers when the bucket holds objects.
    """
    if problem.is_a(BucketNotEmpty):
        held = problem.field("object_count")
        minimum = "at least " if problem.field("object_count_is_a_minimum") else ""
        amount = f"{minimum}{held} object{'' if held == 1 else 's'}" if isinstance(held, int) else "objects"
        problem.message = f"bucket {bucket!r} holds {amount}; delete them first, or pass --force to empty it"
        problem.hints.append(
            "--force deletes every object in the bucket first; --retain keeps the bucket at the provider"
        )
    return problem


def _placement_hint(problem: ApiProblem) -> ApiProblem:
    if problem.is_a(Invalid) and {"provider", "region"} & {e.field for e in problem.errors}:
        problem.hints.append(REGIONS_HINT)
    return problem


# --- buckets -------------------------------------------------------------------------------------

buckets = typer.Typer(
    help="The buckets of a project: create, list, show, delete, replace and their events.",
    no_args_is_help=True,
)


@buckets.command("create", cls=ApiCommand)
@with_options(ORG, PROJECT)
def create_bucket(
    options: Options,
    name: Annotated[str, typer.Argument(help="S3 bucket name: 3-63 lowercase letters, digits, hyphens")],
    provider: Annotated[
        str, typer.Option(help="the provider, as `loopback regions` lists it", show_default=False)
    ],
    region: Annotated[str, typer.Option(help="a region code of that provider", show_default=False)],
    deletion_policy: Annotated[
        str | None,
        typer.Option(
            help="delete (default): deleting the bucket here deletes it at the provider; "
            "retain: it only releases the record",
            show_default=False,
        ),
    ] = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = 300,
) -> None:
    """Create a bucket; it is pending until the worker provisions it (--wait follows it there)."""
    body = {"name": name, "provider": provider, "region": region, "deletion_policy": deletion_policy}
    show = options.printer()
    with in_project(options) as (client, where):
        try:
            answer = client.post(where.buckets(), body)
        except ApiProblem as problem:
            raise _placement_hint(problem) from None
        if not wait:
            show.record(answer, BUCKET)
            show.note(
                f"Bucket {name!r} is {answer.body.get('status')}; `loopback buckets show {name}` follows it."
            )
            return
        answer = wait_for_bucket(client, where, answer, {"ready", "failed", "lost", "deleted"}, timeout)
    show.record(answer, BUCKET)
    expect(
        answer,
        "ready",
        [
            f"`loopback buckets events {name}` tells its history; "
            f"`loopback buckets replace {name}` tries again"
        ],
    )


@buckets.command("list", cls=ApiCommand)
@with_options(ORG, PROJECT)
def list_buckets(
    options: Options,
    status: Annotated[
        str | None,
        typer.Option(help="only this status: pending, provisioning, ready, failed, lost, deleting, deleted"),
    ] = None,
    provider: Annotated[str | None, typer.Option(help="only at this provider")] = None,
    region: Annotated[str | None, typer.Option(help="only in this region")] = None,
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
    if not (status or provider or region):
        empty += " Create one: `loopback buckets create NAME --provider P --region R`; " + REGIONS_HINT + "."
    show.table(rows, BUCKET_ROW, empty)


@buckets.command("show", cls=ApiCommand)
@with_options(ORG, PROJECT)
def show_bucket(options: Options, bucket: BucketArgument) -> None:
    """One bucket: status and why, endpoint, usage, history fields."""
    with in_project(options) as (client, where):
        answer = client.get(where.buckets(bucket_id(client, where, bucket)))
    options.printer().record(answer, BUCKET)


@buckets.command("delete", cls=ApiCommand)
@with_options(ORG, PROJECT, YES)
def delete_bucket(
    options: Options,
    bucket: BucketArgument,
    force: Annotated[bool, typer.Option("--force", help="delete every object in it first")] = False,
    retain: Annotated[
        bool, typer.Option("--retain", help="release the record only; the bucket stays at the provider")
    ] = False,
    wait: WaitOption = False,
    timeout: TimeoutOption = 300,
) -> None:
    """Delete a bucket and revoke its credentials; refused while it holds objects, unless --force."""
    show = options.printer()
    with in_project(options) as (client, where):
        found = bucket_id(client, where, bucket)
        if retain:
            question = (
                f"Release bucket {bucket!r} from {where}? "
                "It stays at the provider; its credentials are revoked."
            )
        else:
            emptied = " and every object in it" if force else ""
            question = f"Delete bucket {bucket!r} of {where}{emptied}, and revoke its credentials?"
        options.confirm(question)
        params = {"force": True if force else None, "policy": "retain" if retain else None}
        try:
            answer = client.request("DELETE", where.buckets(found), params=params)
        except ApiProblem as problem:
            raise (problem if force or retain else _not_empty(problem, bucket)) from None
        if not wait:
            show.record(answer, BUCKET)
            show.note(
                f"Bucket {bucket!r} is {answer.body.get('status')}; `--wait` follows it until it is gone."
            )
            return
        answer = wait_for_bucket(client, where, answer, {"deleted", "failed", "lost"}, timeout)
    show.record(answer, BUCKET)
    expect(answer, "deleted", [f"`loopback buckets events {bucket}` tells its history"])
    show.note(f"Bucket {bucket!r} is deleted." if not retain else f"Bucket {bucket!r} is released.")


@buckets.command("replace", cls=ApiCommand)
@with_options(ORG, PROJECT)
def replace_bucket(
    options: Options,
    bucket: BucketArgument,
    name: Annotated[str | None, typer.Option(help="a new name; the old one when left out")] = None,
    provider: Annotated[str | None, typer.Option(help="another provider; the old one when left out")] = None,
    region: Annotated[str | None, typer.Option(help="another region; the old one when left out")] = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = 300,
) -> None:
    """Provision a failed or lost bucket again, or move one, as a new bucket that supersedes it."""
    show = options.printer()
    with in_project(options) as (client, where):
        found = bucket_id(client, where, bucket)
        try:
            answer = client.post(
                where.buckets(found, "replace"), {"name": name, "provider": provider, "region": region}
            )
        except ApiProblem as problem:
            raise _placement_hint(problem) from None
        if not wait:
            show.record(answer, BUCKET)
            show.note(f"Bucket {answer.body.get('id')} replaces {found}; `--wait` follows it.")
            return
        answer = wait_for_bucket(client, where, answer, {"ready", "failed", "lost", "deleted"}, timeout)
    show.record(answer, BUCKET)
    expect(answer, "ready", [f"`loopback buckets events {answer.body.get('id')}` tells its history"])


@buckets.command("events", cls=ApiCommand)
@with_options(ORG, PROJECT)
def bucket_events(options: Options, bucket: BucketArgument) -> None:
    """Every change of a bucket's status with its reason, oldest first."""
    with in_project(options) as (client, where):
        answer = client.get(where.buckets(bucket_id(client, where, bucket), "events"))
    options.printer().rows(answer, "events", EVENT, "No events.")


# --- regions and usage ---------------------------------------------------------------------------


@with_options()
def regions(
    options: Options,
    provider: Annotated[str | None, typer.Option(help="only this provider's regions")] = None,
    family: Annotated[str | None, typer.Option(help="only providers of this family, e.g. s3")] = None,
) -> None:
    """The providers and regions buckets can be created in (for buckets create --provider --region)."""
    with options.api() as client:
        answer = client.get(v3("regions"))
    show = options.printer()
    if provider is None and family is None:
        show.rows(answer, "regions", REGION, "No regions are enabled; ask the installation's operator.")
        return
    chosen = [
        r
        for r in answer.body.get("regions") or []
        if provider in (None, r.get("provider")) and family in (None, r.get("family"))
    ]
    if show.json:
        show.document({"regions": chosen})
    else:
        show.table(chosen, REGION, "No region matches.")


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
            answer = client.get(v3("organizations", slug, "usage"))
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


def register(app: typer.Typer) -> None:
    """Add these commands to the ``loopback`` command, under a help panel of their own."""
    app.add_typer(buckets, name="buckets", rich_help_panel=PANEL)
    app.command("regions", cls=ApiCommand, rich_help_panel=PANEL)(regions)
    app.command("usage", cls=ApiCommand, rich_help_panel=PANEL)(usage)
