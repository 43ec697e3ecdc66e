"""``loopback buckets delete``: delete a bucket (or release its record) and revoke its credentials.

The API refuses a bucket that holds objects unless ``--force`` empties it first; that refusal is
said in this command's flags. Before asking "Delete bucket ...?" the command counts a ready
bucket's objects (a usage refresh, a second or so), so a bucket that holds some is refused before
the question rather than after the user said yes; the API's own check still decides.
"""

from __future__ import annotations

from typing import Annotated

import typer

from loopback.buckets.cli.place import ORG, PROJECT, BucketArgument, Place, bucket_id, in_project
from loopback.buckets.cli.waiting import TimeoutOption, WaitOption, follow, settle
from loopback.client.errors import ApiProblem, ClientError, ExitCode
from loopback.client.http import ApiClient
from loopback.client.options import YES, Options, with_options
from loopback.kit.errors import BucketNotEmpty

COUNT_SECONDS = 15.0  # how long the count before the question may take; past it, the API decides
FORCE_HINT = "--force deletes every object in the bucket first; --retain keeps the bucket at the provider"


def _held(bucket: str, amount: str) -> str:
    return f"bucket {bucket!r} holds {amount}; delete them first, or pass --force to empty it"


def _not_empty(problem: ApiProblem, bucket: str) -> ApiProblem:
    """A refused delete said with this command's flags rather than the API's query parameters.

    A conflict is the one refusal a delete without ``force`` answers when the bucket holds objects.
    """
    if problem.is_a(BucketNotEmpty):
        held = problem.field("object_count")
        minimum = "at least " if problem.field("object_count_is_a_minimum") else ""
        amount = f"{minimum}{held} object{'' if held == 1 else 's'}" if isinstance(held, int) else "objects"
        problem.message = _held(bucket, amount)
        problem.hints.append(FORCE_HINT)
    return problem


def _objects_now(client: ApiClient, where: Place, found: str, bucket: str) -> int | None:
    """How many objects a ready bucket holds, counted now; None when it cannot be counted in time."""
    path = where.buckets(found)
    try:
        shown = client.get(path).body
        if shown.get("status") != "ready":
            return None
        before = (shown.get("usage") or {}).get("last_synced_at")
        client.post(path + "/usage/refresh")
        answer = follow(
            client,
            path,
            label=f"bucket {bucket!r}",
            done=lambda b: (b.get("usage") or {}).get("last_synced_at") != before,
            describe=lambda b: "counting its objects before asking",
            timeout=COUNT_SECONDS,
        )
    except ClientError:
        return None  # a count refused or slow: ask, and let the API's own check decide
    count = (answer.body.get("usage") or {}).get("object_count")
    return count if isinstance(count, int) else None


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
        if not (force or retain or options.yes):
            held = _objects_now(client, where, found, bucket)
            if held:
                amount = f"{held} object{'' if held == 1 else 's'}"
                raise ClientError(_held(bucket, amount), ExitCode.REFUSED, [FORCE_HINT])
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
        note = f"Bucket {bucket!r} is {answer.body.get('status')}; `--wait` follows it until it is gone."
        hints = [f"`loopback buckets events {bucket}` tells its history"]
        gone = settle(show, client, where, answer, "deleted", note, hints, wait=wait, timeout=timeout)
    if gone:
        show.note(f"Bucket {bucket!r} is deleted." if not retain else f"Bucket {bucket!r} is released.")
