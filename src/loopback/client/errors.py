"""What stops a ``loopback`` command short of the API's yes, and the exit code that tells a script.

Exit codes:

- ``0``: done.
- ``1``: nothing was done: the API refused the request (404, 409, 422 and every other 4xx
  not named below), or you declined a confirmation.
- ``2``: usage error: a missing or malformed argument or option (Typer's own), or an API URL
  that is not ``http://`` or ``https://``.
- ``3``: the API could not answer now: it cannot be reached, timed out, failed (5xx) or asked to
  slow down (429). Retrying later may help; nothing else here does.
- ``4``: authentication or permission: no token is configured, the token is unknown, revoked or
  expired (401), or its role does not grant the action (403, which names the permission).

A refusal is told apart by its RFC 9457 problem ``type`` (``ApiProblem.is_a``), its status and its
fields, never by the English of its ``detail``, which is for people and may change.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopback.kit.errors import LoopbackError, problem_type

if TYPE_CHECKING:  # the commands load httpx when they call the API, not `serve` with them
    import httpx

NO_TYPE = "about:blank"  # RFC 9457: the type of a problem that says no more than its status


class ExitCode(enum.IntEnum):
    """What a command's exit status tells a script; see the module docstring."""

    OK = 0
    REFUSED = 1
    USAGE = 2
    UNAVAILABLE = 3
    AUTH = 4


class ClientError(Exception):
    """Anything that stopped a command short of the API's yes; ``lines`` is what the user reads."""

    def __init__(self, message: str, exit_code: ExitCode, hints: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.hints = list(hints)  # what to do about it, a line each after the error

    def lines(self) -> list[str]:
        return [f"error: {self}", *self.hints]


@dataclass(frozen=True)
class FieldError:
    """One input field the API rejected; ``field`` is dotted as the API names it (``role_cap``)."""

    field: str
    detail: str


def exit_code_for(status: int) -> ExitCode:
    if status in (401, 403):
        return ExitCode.AUTH
    if status == 429 or status >= 500:
        return ExitCode.UNAVAILABLE
    return ExitCode.REFUSED


class ApiProblem(ClientError):
    """An RFC 9457 problem the API answered (or a non-2xx answer that is not one).

    ``type_uri`` is the problem's ``type`` (``urn:loopback:problem:conflict``), ``NO_TYPE`` when
    the answer named none; ``message`` replaces the API's ``detail`` where a command says it in its
    own words (its flags rather than the API's query parameters).
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type_uri: str = NO_TYPE,
        errors: Sequence[FieldError] = (),
        permission: str | None = None,
        body: str = "",
    ) -> None:
        super().__init__(detail, exit_code_for(status))
        self.status = status
        self.title = title
        self.detail = detail
        self.type_uri = type_uri
        self.errors = list(errors)
        self.permission = permission
        self.body = body
        self.message: str | None = None

    @classmethod
    def of(cls, response: httpx.Response) -> ApiProblem:
        """Read a problem document; anything else (a proxy's HTML page, say) keeps its status and text."""
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            text = response.text.strip()[:300] or response.reason_phrase
            return cls(response.status_code, response.reason_phrase, text, body=response.text)
        errors = [
            FieldError(str(e.get("field", "")), str(e.get("detail", "")))
            for e in document.get("errors") or []
            if isinstance(e, dict)
        ]
        return cls(
            response.status_code,
            str(document.get("title") or response.reason_phrase),
            str(document.get("detail") or document.get("title") or response.reason_phrase),
            type_uri=str(document.get("type") or NO_TYPE),
            errors=errors,
            permission=document.get("permission"),
            body=response.text,
        )

    def field(self, name: str) -> Any:
        """A member of the problem document beyond the standard ones (``object_count`` ...)."""
        try:
            document = json.loads(self.body) if self.body else {}
        except ValueError:
            return None
        return document.get(name) if isinstance(document, dict) else None

    def is_a(self, kind: type[LoopbackError]) -> bool:
        """Whether the API refused with this error of its tree, by the problem's ``type``."""
        return self.type_uri == problem_type(kind.slug)

    def lines(self) -> list[str]:
        if self.errors:
            return [
                f"error: {self.title.lower()} ({self.status})",
                *(f"{e.field}: {e.detail}" for e in self.errors),
                *self.hints,
            ]
        suffix = f"{self.status}, permission {self.permission}" if self.permission else str(self.status)
        return [f"error: {self.message or self.detail} ({suffix})", *self.hints]
