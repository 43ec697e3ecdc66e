"""``--wait``: follow a bucket until it settles, on stderr, and say how it ended in the exit code.

A terminal gets a spinner with the live state; a pipe or a log gets a line each time it changes.
The bucket settled where it was going exits 0, anywhere else (failed, lost) 1 with its reason, and
``--timeout`` passing 3: the API keeps working on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from loopback.buckets.cli.columns import BUCKET
from loopback.buckets.cli.place import Place
from loopback.client.errors import ClientError, ExitCode
from loopback.client.http import ApiClient, ApiResponse
from loopback.client.output import Printer

FIRST_POLL_SECONDS = 0.5
LAST_POLL_SECONDS = 2.0
SETTLED = {
    "ready": {"ready", "failed", "lost", "deleted"},  # where a bucket being made can end
    "deleted": {"deleted", "failed", "lost"},  # where a bucket being deleted can end
}

WaitOption = Annotated[
    bool, typer.Option("--wait", help="follow the bucket until it settles; exit 1 if it fails")
]
TimeoutOption = Annotated[
    float,
    typer.Option(min=0, help="seconds --wait follows the bucket before giving up with exit 3"),
]


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


def settle(
    show: Printer,
    client: ApiClient,
    where: Place,
    answer: ApiResponse,
    wanted: str,
    note: str,
    hints: Sequence[str],
    *,
    wait: bool,
    timeout: float,
) -> bool:
    """Show the bucket a change was accepted for: at once with ``note``, or with ``--wait`` once settled.

    True when it was followed and ended as ``wanted`` (``ready`` or ``deleted``); a bucket followed
    to anywhere else exits 1 with ``hints``.
    """
    if not wait:
        show.record(answer, BUCKET)
        show.note(note)
        return False
    answer = wait_for_bucket(client, where, answer, SETTLED[wanted], timeout)
    show.record(answer, BUCKET)
    expect(answer, wanted, hints)
    return True
