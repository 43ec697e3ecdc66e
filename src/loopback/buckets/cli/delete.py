"""``loopback buckets delete``: delete a bucket (or release its record) and revoke its credentials;
or, with ``--install PART=VALUE``, every live bucket linked to that install, each as its own
deletion policy says (deleted at the provider, or released and kept there) unless ``--retain``
releases them all. The question says how many there are and what becomes of them.

The API refuses a bucket that holds objects unless ``--force`` empties it first; that refusal is
said in this command's flags. Before asking "Delete bucket ...?" the command counts a ready
bucket's objects (a usage refresh, a second or so), so a bucket that holds some is refused before
the question rather than after the user said yes; the API's own check still decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from loopback.buckets.cli.columns import BUCKET_ROW
from loopback.buckets.cli.install import FilterOption, described, filters_of, link_of
from loopback.buckets.cli.place import ORG, PROJECT, Place, bucket_id, every_bucket, in_project
from loopback.buckets.cli.waiting import SETTLED, TimeoutOption, WaitOption, follow, settle, wait_for_bucket
from loopback.client.errors import ApiProblem, ClientError, ExitCode
from loopback.client.http import ApiClient, ApiResponse
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
    bucket: Annotated[
        str | None,
        typer.Argument(help="the bucket's name, or its id (bkt_...); leave out with --install"),
    ] = None,
    install: FilterOption = None,
    force: Annotated[bool, typer.Option("--force", help="delete every object in it first")] = False,
    retain: Annotated[
        bool, typer.Option("--retain", help="release the record only; the bucket stays at the provider")
    ] = False,
    wait: WaitOption = False,
    timeout: TimeoutOption = 300,
) -> None:
    """Delete a bucket and revoke its credentials; refused while it holds objects, unless --force.

    With --install instead of a bucket: every live bucket linked to that install, each deleted or
    released as its own deletion policy says (--retain releases them all).
    """
    link = link_of(install)
    if (bucket is None) == (link is None):
        raise typer.BadParameter(
            "name one bucket, or an install with --install PART=VALUE", param_hint="BUCKET"
        )
    if bucket is None:
        _delete_install(options, link or {}, force=force, retain=retain, wait=wait, timeout=timeout)
        return
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


def _fate(buckets: list[dict[str, Any]], force: bool, retain: bool) -> str:
    """What a delete does to ``buckets``, by their own deletion policies, for the question."""
    if retain:
        return "each released, kept at the provider"
    kept = sum(1 for b in buckets if b.get("deletion_policy") == "retain")
    fates = []
    if len(buckets) > kept:
        fates.append(f"{len(buckets) - kept} deleted at the provider" + (", emptied first" if force else ""))
    if kept:
        fates.append(f"{kept} released as their deletion policy says, kept at the provider")
    return "; ".join(fates)


def _delete_install(
    options: Options, link: Mapping[str, str], *, force: bool, retain: bool, wait: bool, timeout: float
) -> None:
    """Delete every live bucket linked to the install ``link`` names, each by its own policy."""
    show = options.printer()
    named = described(link)
    with in_project(options) as (client, where):
        found = every_bucket(client, where, {**filters_of(link), "superseded": False})
        live = [b for b in found if b.get("status") not in {"deleting", "deleted"}]
        if not live:
            if show.json:
                show.document({"buckets": [], "refused": []})
            show.note(f"No live bucket of {where} is linked to install {named}; nothing to delete.")
            return
        noun = "bucket" if len(live) == 1 else "buckets"
        options.confirm(
            f"Delete {len(live)} {noun} of {where} linked to install {named} "
            f"({_fate(live, force, retain)}), and revoke their credentials?"
        )
        params = {"force": True if force else None, "policy": "retain" if retain else None}
        answers: list[ApiResponse] = []
        refused: list[tuple[Mapping[str, Any], ApiProblem]] = []
        for row in live:
            try:
                answers.append(client.request("DELETE", where.buckets(str(row["id"])), params=params))
            except ApiProblem as problem:
                refused.append((row, problem if force or retain else _not_empty(problem, str(row["name"]))))
        if wait:
            answers = [wait_for_bucket(client, where, a, SETTLED["deleted"], timeout) for a in answers]
    rows = [a.body for a in answers]
    if show.json:
        show.document(
            {
                "buckets": rows,
                "refused": [{"id": b["id"], "name": b["name"], "detail": p.message} for b, p in refused],
            }
        )
    else:
        show.table(rows, BUCKET_ROW, "None was deleted.")
    settled = " and settled" if wait else "; `--wait` follows them until they are gone"
    show.note(f"{len(rows)} of {len(live)} {noun} linked to install {named} accepted for deletion{settled}.")
    if refused:
        said = "; ".join(f"{b['name']}: {p.message}" for b, p in refused)
        hints = [FORCE_HINT] if any(p.is_a(BucketNotEmpty) for _, p in refused) else []
        raise ClientError(
            f"{len(refused)} of {len(live)} {noun} not deleted: {said}", ExitCode.REFUSED, hints
        )
