"""``loopback buckets create|validate|adopt|replace``: a new bucket, a dry run, one that exists, a successor.

``create`` and ``replace`` are accepted as pending; the worker provisions the bucket, and ``--wait``
follows it until it is ready (exit 0) or failed or lost (exit 1). ``validate`` answers as ``create``
would and records nothing; ``adopt`` records a bucket the provider already has, ready at once. A
refused provider or region hints at ``loopback regions``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

import typer

from loopback.buckets.cli.columns import BUCKET, VALIDATION
from loopback.buckets.cli.install import LinkOption, link_of
from loopback.buckets.cli.place import ORG, PROJECT, BucketArgument, Place, bucket_id, in_project
from loopback.buckets.cli.regions import placement_hint
from loopback.buckets.cli.waiting import TimeoutOption, WaitOption, settle
from loopback.client.errors import ApiProblem
from loopback.client.http import ApiClient, ApiResponse
from loopback.client.options import Options, with_options
from loopback.client.output import Column

NAME_HELP = (
    "S3 bucket name: 3-63 lowercase letters, digits, hyphens and dots (logs.example.com), "
    "a letter or digit at each end; not an IP address"
)
NameArgument = Annotated[str, typer.Argument(help=NAME_HELP)]
ProviderOption = Annotated[
    str, typer.Option(help="the provider, as `loopback regions` lists it", show_default=False)
]
RegionOption = Annotated[str, typer.Option(help="a region code of that provider", show_default=False)]
PolicyOption = Annotated[
    str | None,
    typer.Option(
        help="delete (default): deleting the bucket here deletes it at the provider; "
        "retain: it only releases the record",
        show_default=False,
    ),
]


def _new(
    name: str, provider: str, region: str, deletion_policy: str | None, install: list[str] | None
) -> dict[str, Any]:
    """The body of a create (or its dry run)."""
    link = link_of(install)
    return {
        "name": name,
        "provider": provider,
        "region": region,
        "deletion_policy": deletion_policy,
        "install": link,
    }


def _ask(client: ApiClient, path: str, body: Mapping[str, Any]) -> ApiResponse:
    """POST for a bucket to be made; a refused provider or region says where to find the ones there are."""
    try:
        return client.post(path, body)
    except ApiProblem as problem:
        raise placement_hint(problem) from None


def _answered(
    options: Options,
    action: str,
    body: Mapping[str, Any],
    columns: Sequence[Column],
    note: Callable[[Place], str],
) -> None:
    """POST ``body`` to the project's ``buckets/{action}``, show the answer, and ``note`` on stderr."""
    with in_project(options) as (client, where):
        answer = _ask(client, where.buckets(action), body)
    show = options.printer()
    show.record(answer, columns)
    show.note(note(where))


@with_options(ORG, PROJECT)
def create_bucket(
    options: Options,
    name: NameArgument,
    provider: ProviderOption,
    region: RegionOption,
    deletion_policy: PolicyOption = None,
    install: LinkOption = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = 300,
) -> None:
    """Create a bucket; it is pending until the worker provisions it (--wait follows it there)."""
    body = _new(name, provider, region, deletion_policy, install)
    with in_project(options) as (client, where):
        answer = _ask(client, where.buckets(), body)
        note = f"Bucket {name!r} is {answer.body.get('status')}; `loopback buckets show {name}` follows it."
        history = f"`loopback buckets events {name}` tells its history"
        hints = [f"{history}; `loopback buckets replace {name}` tries again"]
        settle(options.printer(), client, where, answer, "ready", note, hints, wait=wait, timeout=timeout)


@with_options(ORG, PROJECT)
def validate_bucket(
    options: Options,
    name: NameArgument,
    provider: ProviderOption,
    region: RegionOption,
    deletion_policy: PolicyOption = None,
    install: LinkOption = None,
) -> None:
    """Check a name and placement as create would, recording nothing; exit 1 naming every problem."""
    body = _new(name, provider, region, deletion_policy, install)
    command = f"`loopback buckets create {name} --provider {provider} --region {region}`"
    _answered(options, "validate", body, VALIDATION, lambda where: f"{command} would be accepted now.")


@with_options(ORG, PROJECT)
def adopt_bucket(
    options: Options,
    name: NameArgument,
    provider: ProviderOption,
    region: RegionOption,
    install: LinkOption = None,
) -> None:
    """Bring a bucket that exists at the provider under the project, ready at once, objects and all.

    The provider must have it and the operator's credentials must reach it. Deleting it here later
    deletes it at the provider (`buckets delete --retain` only releases it).
    """
    body = {"name": name, "provider": provider, "region": region, "install": link_of(install)}
    issue = f"`loopback credentials issue {name}` gives a key to it"
    _answered(
        options, "adopt", body, BUCKET, lambda where: f"Bucket {name!r} is adopted into {where}; {issue}."
    )


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
    with in_project(options) as (client, where):
        found = bucket_id(client, where, bucket)
        body = {"name": name, "provider": provider, "region": region}
        answer = _ask(client, where.buckets(found, "replace"), body)
        new = answer.body.get("id")
        note = f"Bucket {new} replaces {found}; `--wait` follows it."
        hints = [f"`loopback buckets events {new}` tells its history"]
        settle(options.printer(), client, where, answer, "ready", note, hints, wait=wait, timeout=timeout)
