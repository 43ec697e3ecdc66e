"""``loopback buckets delete``: delete a bucket (or release its record) and revoke its credentials.

The API refuses a bucket that holds objects unless ``--force`` empties it first; that refusal is
said in this command's flags.
"""

from __future__ import annotations

from typing import Annotated

import typer

from loopback.buckets.cli.place import ORG, PROJECT, BucketArgument, bucket_id, in_project
from loopback.buckets.cli.waiting import TimeoutOption, WaitOption, settle
from loopback.client.errors import ApiProblem
from loopback.client.options import YES, Options, with_options
from loopback.kit.errors import BucketNotEmpty


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
        note = f"Bucket {bucket!r} is {answer.body.get('status')}; `--wait` follows it until it is gone."
        hints = [f"`loopback buckets events {bucket}` tells its history"]
        gone = settle(show, client, where, answer, "deleted", note, hints, wait=wait, timeout=timeout)
    if gone:
        show.note(f"Bucket {bucket!r} is deleted." if not retain else f"Bucket {bucket!r} is released.")
