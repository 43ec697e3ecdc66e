"""The API client the ``loopback`` commands speak through: connection, problems, exit codes, output.

Exit codes, for scripts:

- ``0``: done.
- ``1``: nothing was done: the API refused the request (404, 409, 422 and every other 4xx
  not named below), or you declined a confirmation.
- ``2``: usage error: a missing or malformed argument or option (Typer's own), or an API URL
  that is not ``http://`` or ``https://``.
- ``3``: the API could not answer now: it cannot be reached, timed out, failed (5xx) or asked to
  slow down (429). Retrying later may help; nothing else here does.
- ``4``: authentication or permission: no token is configured, the token is unknown, revoked or
  expired (401), or its role does not grant the action (403, which names the permission).

Where the connection comes from, first match wins:

- the API URL: ``--api-url``, ``LOOPBACK_API_URL``, the URL a token source stored with its token,
  then ``http://127.0.0.1:8080`` (what ``make serve`` listens on);
- the token: ``--token``, ``LOOPBACK_TOKEN``, then each source in ``TOKEN_SOURCES``: the URL and
  token ``loopback login`` stored in the user config directory (``$LOOPBACK_CONFIG_DIR``, else
  ``login.json`` in ``typer.get_app_dir("loopback")``: ``$XDG_CONFIG_HOME/loopback`` or
  ``~/.config/loopback`` on Linux), then the bootstrap token ``loopback serve`` writes into its
  data directory (``$LOOPBACK_DATA_DIR``, ``./.loopback`` by default). The stored URL goes with
  the stored token: a token from ``--token`` or ``LOOPBACK_TOKEN`` never travels to it.

Output: a command's result goes to stdout, as Rich tables for people or, with ``--output json``,
as the API's JSON body verbatim for scripts; notes, warnings and errors go to stderr. When the
API answers a problem and ``--output json`` is set, the problem document goes to stdout too.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Protocol
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand

import loopback
from loopback.kit.units import binary_size

DEFAULT_API_URL = "http://127.0.0.1:8080"
API_URL_ENV = "LOOPBACK_API_URL"
TOKEN_ENV = "LOOPBACK_TOKEN"
DATA_DIR_ENV = "LOOPBACK_DATA_DIR"
BOOTSTRAP_TOKEN_FILE = "bootstrap-token"
CONFIG_DIR_ENV = "LOOPBACK_CONFIG_DIR"
LOGIN_FILE = "login.json"
TIMEOUT_SECONDS = 30.0
PIPE_WIDTH = 200


class ExitCode(enum.IntEnum):
    """What a command's exit status tells a script; see the module docstring."""

    OK = 0
    REFUSED = 1
    USAGE = 2
    UNAVAILABLE = 3
    AUTH = 4


# --- where the token comes from ------------------------------------------------------------------


@dataclass(frozen=True)
class FoundToken:
    """A token and where it was found, so an error can say which token the API refused."""

    token: str
    origin: str
    api_url: str | None = None


class TokenSource(Protocol):
    """Somewhere a token may be kept besides ``--token`` and ``LOOPBACK_TOKEN``."""

    def find(self) -> FoundToken | None:
        """The token kept here, or None when there is none."""
        ...

    def hint(self) -> str:
        """How a user puts a token here, for the message shown when no source has one."""
        ...


class BootstrapTokenFile:
    """The operator token ``loopback serve`` writes on its first start, on the machine it runs on."""

    def path(self) -> Path:
        return Path(os.environ.get(DATA_DIR_ENV) or ".loopback") / BOOTSTRAP_TOKEN_FILE

    def find(self) -> FoundToken | None:
        path = self.path()
        try:
            token = path.read_text().strip()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise NoToken(f"cannot read the token in {path}: {error.strerror or error}") from None
        return FoundToken(token, str(path)) if token else None

    def hint(self) -> str:
        return f"run this where `loopback serve` wrote {self.path()}"


class LoginFile:
    """The API URL and token ``loopback login`` stored for this user, readable by them alone."""

    def directory(self) -> Path:
        return Path(os.environ.get(CONFIG_DIR_ENV) or typer.get_app_dir("loopback"))

    def path(self) -> Path:
        return self.directory() / LOGIN_FILE

    def find(self) -> FoundToken | None:
        path = self.path()
        try:
            stored = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except OSError as error:
            raise NoToken(f"cannot read the login in {path}: {error.strerror or error}") from None
        except ValueError:
            stored = None
        token = stored.get("token") if isinstance(stored, dict) else None
        api_url = stored.get("api_url") if isinstance(stored, dict) else None
        if not isinstance(token, str) or not token.strip() or not isinstance(api_url, str):
            raise NoToken(f"the login in {path} is unreadable; run `loopback login` again")
        return FoundToken(token, f"`loopback login` ({path})", api_url)

    def hint(self) -> str:
        return "run `loopback login`"

    def save(self, api_url: str, token: str) -> Path:
        """Store the URL and token: the directory 0700, the file 0600 from its first byte on."""
        directory = self.directory()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        path = self.path()
        partial = directory / f".{LOGIN_FILE}.{os.getpid()}"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(descriptor, 0o600)  # the file may have existed from an interrupted login
            with os.fdopen(descriptor, "w") as file:
                json.dump({"api_url": api_url, "token": token}, file)
                file.write("\n")
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return path

    def remove(self) -> bool:
        """Forget the stored login; False when there was none."""
        try:
            self.path().unlink()
        except FileNotFoundError:
            return False
        return True


TOKEN_SOURCES: tuple[TokenSource, ...] = (LoginFile(), BootstrapTokenFile())


@dataclass(frozen=True)
class Connection:
    """Which API to call and with which token."""

    api_url: str
    token: str
    token_origin: str


def connect(
    api_url: str | None = None, token: str | None = None, sources: Sequence[TokenSource] = TOKEN_SOURCES
) -> Connection:
    """Resolve the API URL and token from flags, the environment and ``sources``, in that order."""
    found: FoundToken | None = None
    if token:
        found = FoundToken(token, "--token")
    elif os.environ.get(TOKEN_ENV):
        found = FoundToken(os.environ[TOKEN_ENV], TOKEN_ENV)
    else:
        found = next((f for f in (source.find() for source in sources) if f is not None), None)
    if found is None:
        ways = ["pass --token TOKEN", f"set {TOKEN_ENV}", *(source.hint() for source in sources)]
        raise NoToken("no API token: " + ", or ".join(ways))
    url = (api_url or os.environ.get(API_URL_ENV) or found.api_url or DEFAULT_API_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise BadApiUrl(f"the API URL {url!r} must start with http:// or https://")
    return Connection(url, found.token.strip(), found.origin)


# --- what can go wrong ---------------------------------------------------------------------------


class ClientError(Exception):
    """Anything that stopped a command short of the API's yes; ``lines`` is what the user reads."""

    def __init__(self, message: str, exit_code: ExitCode, hints: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.hints = list(hints)  # what to do about it, a line each after the error

    def lines(self) -> list[str]:
        return [f"error: {self}", *self.hints]


class NoToken(ClientError):
    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.AUTH)


class BadApiUrl(ClientError):
    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.USAGE)


class ApiUnreachable(ClientError):
    def __init__(self, api_url: str, reason: str) -> None:
        super().__init__(
            f"cannot reach the API at {api_url}: is `loopback serve` running? ({reason})",
            ExitCode.UNAVAILABLE,
        )


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
    """An RFC 9457 problem the API answered (or a non-2xx answer that is not one)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        permission: str | None = None,
        body: str = "",
        token_origin: str | None = None,
    ) -> None:
        super().__init__(detail, exit_code_for(status))
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = list(errors)
        self.permission = permission
        self.body = body
        self.token_origin = token_origin

    @classmethod
    def of(cls, response: httpx.Response, token_origin: str | None = None) -> ApiProblem:
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
            errors=errors,
            permission=document.get("permission"),
            body=response.text,
            token_origin=token_origin,
        )

    def lines(self) -> list[str]:
        if self.errors:
            return [
                f"error: {self.title.lower()} ({self.status})",
                *(f"{e.field}: {e.detail}" for e in self.errors),
                *self.hints,
            ]
        suffix = f"{self.status}, permission {self.permission}" if self.permission else str(self.status)
        lines = [f"error: {self.detail} ({suffix})"]
        if self.status == 401 and self.token_origin:
            lines.append(
                f"the token came from {self.token_origin}; give another with --token, {TOKEN_ENV} "
                "or `loopback login`"
            )
        return [*lines, *self.hints]


# --- the client ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiResponse:
    """A successful answer: ``text`` is the body as it came, ``body`` its JSON."""

    status: int
    text: str
    body: dict[str, Any]


def v3(*segments: str) -> str:
    """An API v3 path; each segment is quoted, so a slug, an id or an email cannot change the path."""
    return "/v3/" + "/".join(quote(segment, safe="@") for segment in segments)


def _present(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    # None means "leave it out": the API's defaults apply, and no route takes an explicit null.
    return None if values is None else {key: value for key, value in values.items() if value is not None}


class ApiClient:
    """One connection to the API; each call is one request, and every refusal raises ``ApiProblem``."""

    def __init__(
        self,
        connection: Connection,
        *,
        timeout: float = TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.connection = connection
        self._http = httpx.Client(
            base_url=connection.api_url,
            headers={
                "Authorization": f"Bearer {connection.token}",
                "User-Agent": f"loopback-cli/{loopback.__version__}",
                "Accept": "application/json, application/problem+json",
            },
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        accept: str | None = None,
    ) -> ApiResponse:
        """One call; with ``accept`` (a tool's file, not JSON) the answer's text is all there is."""
        headers = {"Accept": accept} if accept else None
        try:
            response = self._http.request(
                method, path, json=_present(json), params=_present(params), headers=headers
            )
        except httpx.TimeoutException:
            raise ApiUnreachable(self.connection.api_url, "no answer in time") from None
        except httpx.TransportError as error:
            raise ApiUnreachable(self.connection.api_url, str(error) or type(error).__name__) from None
        if not response.is_success:
            raise ApiProblem.of(response, self.connection.token_origin)
        if accept:
            return ApiResponse(response.status_code, response.text, {})
        try:
            body = response.json() if response.content else {}
        except ValueError:
            raise ApiProblem(
                response.status_code, "Not JSON", "the API answered something that is not JSON"
            ) from None
        return ApiResponse(response.status_code, response.text, body if isinstance(body, dict) else {})

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> ApiResponse:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> ApiResponse:
        return self.request("POST", path, json=body if body is not None else {})

    def patch(self, path: str, body: Mapping[str, Any]) -> ApiResponse:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> ApiResponse:
        return self.request("DELETE", path)


@contextmanager
def api(api_url: str | None, token: str | None) -> Iterator[ApiClient]:
    """A client for one command, from its ``--api-url`` and ``--token`` and what stands behind them."""
    with ApiClient(connect(api_url, token)) as client:
        yield client


# --- command-line glue ---------------------------------------------------------------------------


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


CONNECTION_PANEL = "Connection"
ApiUrlOption = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        help=f"the API's base URL (env {API_URL_ENV}; default {DEFAULT_API_URL})",
        show_default=False,
        rich_help_panel=CONNECTION_PANEL,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        help=f"an API token (env {TOKEN_ENV}; else `loopback login`'s, then .loopback/bootstrap-token)",
        show_default=False,
        rich_help_panel=CONNECTION_PANEL,
    ),
]
OutputOption = Annotated[
    OutputFormat,
    typer.Option(
        "--output",
        "-o",
        help="table for people, json for scripts (the API's JSON as it came)",
        rich_help_panel=CONNECTION_PANEL,
    ),
]


def report(error: ClientError, output: object) -> None:
    """Tell the user what went wrong on stderr; a script asking for JSON gets the problem on stdout."""
    if isinstance(error, ApiProblem) and output == OutputFormat.JSON and error.body:
        typer.echo(error.body)
    for line in error.lines():
        typer.echo(line, err=True)


class ApiCommand(TyperCommand):
    """A command that calls the API: a ``ClientError`` ends it with its message and exit code."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click.Context, which typer does not export
        try:
            return super().invoke(ctx)
        except ClientError as error:
            report(error, ctx.params.get("output"))
            raise typer.Exit(int(error.exit_code)) from None


def confirm(question: str, yes: bool) -> None:
    """Ask before something that cannot be undone; declining (or no terminal to ask on) exits 1."""
    if not yes:
        typer.confirm(question, abort=True, err=True)


# --- rendering -----------------------------------------------------------------------------------


def shown(value: Any) -> str:
    """A value as a table cell: none as "-", booleans as yes/no, UTC timestamps to the second."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        utc = value.endswith(("Z", "+00:00"))
        return value[:19].replace("T", " ") + ("Z" if utc else "")
    return str(value)


def parse_time(value: str) -> datetime:
    """An API timestamp as an aware datetime; one without a zone is UTC, as the API means it."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def ago(value: Any, now: datetime | None = None) -> str:
    """A timestamp relative to now for a table: "3 minutes ago", "in 20 seconds"; a date past a month."""
    if not isinstance(value, str):
        return shown(value)
    try:
        moment = parse_time(value)
    except ValueError:
        return shown(value)
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if abs(seconds) < 5:
        return "just now"
    if abs(seconds) >= 30 * 86400:
        return moment.astimezone(UTC).strftime("%Y-%m-%d")
    amount, unit = next(
        (int(abs(seconds) // size), unit)
        for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))
        if abs(seconds) >= size
    )
    span = f"{amount} {unit}{'' if amount == 1 else 's'}"
    return f"{span} ago" if seconds > 0 else f"in {span}"


def human_bytes(value: Any) -> str:
    """A size for a table in binary units: "512 B", "1.2 MiB"; none (never measured) as "-"."""
    if not isinstance(value, int) or isinstance(value, bool):
        return shown(value)
    return binary_size(value)


@dataclass(frozen=True)
class Column:
    """One column of a table (or one line of a record): its heading and the key of the API's field.

    A narrow terminal folds long cells onto more lines; no column is ever dropped.
    """

    title: str
    key: str
    format: Callable[[Any], str] = field(default=shown)


class Printer:
    """Where a command's result goes: Rich tables for people, the API's JSON verbatim for scripts."""

    def __init__(self, output: OutputFormat) -> None:
        self.output = output

    @property
    def json(self) -> bool:
        return self.output is OutputFormat.JSON

    def _console(self) -> Console:
        # Made per use, so it writes to the stdout of this moment (a test runner swaps it). A pipe
        # or a log gets room for whole rows instead of the 80 columns Rich assumes without a TTY.
        console = Console(highlight=False, soft_wrap=False)
        if not console.is_terminal and "COLUMNS" not in os.environ:
            console.width = PIPE_WIDTH
        return console

    def rows(self, response: ApiResponse, key: str, columns: Sequence[Column], empty: str) -> None:
        """A list the API answered under ``key``, one row each."""
        if self.json:
            typer.echo(response.text)
            return
        self.table(response.body.get(key) or [], columns, empty)

    def table(self, items: Sequence[Mapping[str, Any]], columns: Sequence[Column], empty: str) -> None:
        if not items:
            self.note(empty)
            return
        table = Table(header_style="bold")
        for c in columns:
            table.add_column(c.title, overflow="fold", min_width=len(c.title))
        for item in items:
            table.add_row(*(Text(c.format(item.get(c.key))) for c in columns))
        self._console().print(table)

    def record(self, response: ApiResponse, columns: Sequence[Column]) -> None:
        """One object the API answered, a field a line."""
        if self.json:
            typer.echo(response.text)
            return
        self.fields(response.body, columns)

    def fields(self, item: Mapping[str, Any], columns: Sequence[Column]) -> None:
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for c in columns:
            table.add_row(Text(c.title), Text(c.format(item.get(c.key))))
        self._console().print(table)

    def document(self, document: Mapping[str, Any]) -> None:
        """JSON this command put together (pages joined, say), in the shape of one API answer."""
        typer.echo(json.dumps(document, separators=(",", ":")))

    def note(self, text: str) -> None:
        """Something for the person reading, never for a script: on stderr."""
        typer.echo(text, err=True)
