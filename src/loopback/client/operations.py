"""Which API operations a ``loopback`` command reaches, declared where the command is registered.

``tests/architecture/test_cli_coverage.py`` reads these declarations from the command tree and
compares them with the API's OpenAPI document: every tenant-facing operation must be reached by a
command, every declared operation must exist, and a run of every command over real HTTP must call
each operation its command declares. A command declares the operations it is there to reach, not
the look-ups it makes on the way (the one organization there is, a bucket's id from its name).

An operation is written as the document writes it: ``"GET /v3/organizations/{org}/projects"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

ATTRIBUTE = "api_operations"  # functools.wraps and Typer's own wrapper copy it along with __dict__
OPERATION = re.compile(r"(GET|POST|PUT|PATCH|DELETE) /v3(/[a-z0-9_{}-]+)+")

USER = "/v3/user"
ORGANIZATIONS = "/v3/organizations"
ORG = ORGANIZATIONS + "/{org}"
PROJECT = ORG + "/projects/{project}"
BUCKETS = PROJECT + "/buckets"
BUCKET = BUCKETS + "/{bucket_id}"
CREDENTIALS = PROJECT + "/credentials"
CREDENTIAL = CREDENTIALS + "/{credential_id}"
PROVIDERS = "/v3/operator/providers"
PROVIDER = PROVIDERS + "/{name}"

Command = Callable[..., None]


def calls(command: Command, *operations: str) -> Command:
    """``command``, marked as reaching ``operations`` (``"METHOD /v3/path"``); one at least."""
    malformed = [o for o in operations if not OPERATION.fullmatch(o)]
    if not operations or malformed:
        raise ValueError(f"{command.__name__}: give operations as 'METHOD /v3/path', not {malformed}")
    setattr(command, ATTRIBUTE, (*getattr(command, ATTRIBUTE, ()), *operations))
    return command


def operations_of(callback: Any) -> tuple[str, ...]:
    """What a command's callback declared with ``calls``; none for a command that calls no API."""
    declared = getattr(callback, ATTRIBUTE, ())
    return tuple(declared)
