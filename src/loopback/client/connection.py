"""Which API a ``loopback`` command calls and with which token, from flags, environment and files.

First match wins:

- the API URL: ``--api-url``, ``LOOPBACK_API_URL``, the URL ``loopback login`` stored, then
  ``http://127.0.0.1:8080`` (what ``make serve`` listens on);
- the token: ``--token``, ``LOOPBACK_TOKEN``, then each source in ``TOKEN_SOURCES``: the URL and
  token ``loopback login`` stored in the user config directory (``$LOOPBACK_CONFIG_DIR``, else
  ``login.json`` in ``typer.get_app_dir("loopback")``: ``$XDG_CONFIG_HOME/loopback`` or
  ``~/.config/loopback`` on Linux), then the bootstrap token ``loopback serve`` writes into its
  data directory (``$LOOPBACK_DATA_DIR``, ``./.loopback`` by default).

After ``loopback login --api-url X``, every command calls X until ``--api-url``,
``LOOPBACK_API_URL`` or ``loopback logout`` says otherwise, whichever token it sends: a user who
logged in to X and passes ``--token T`` for one command means "T, at X", and the default URL would
send T to whatever else listens on 127.0.0.1:8080. The login's URL is the one the user chose; the
bootstrap token has none, so it is sent to the flag's, the environment's, the login's or the
default URL in that order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import typer

from loopback.client.errors import ClientError, ExitCode

DEFAULT_API_URL = "http://127.0.0.1:8080"
API_URL_ENV = "LOOPBACK_API_URL"
TOKEN_ENV = "LOOPBACK_TOKEN"
DATA_DIR_ENV = "LOOPBACK_DATA_DIR"
BOOTSTRAP_TOKEN_FILE = "bootstrap-token"
CONFIG_DIR_ENV = "LOOPBACK_CONFIG_DIR"
LOGIN_FILE = "login.json"


class NoToken(ClientError):
    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.AUTH)


class BadApiUrl(ClientError):
    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.USAGE)


def checked_url(url: str) -> str:
    """An API base URL without its trailing slash; one that is not http(s) is a usage error."""
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise BadApiUrl(f"the API URL {url!r} must start with http:// or https://")
    return url


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
    url = api_url or os.environ.get(API_URL_ENV) or found.api_url or _logged_in_url(sources)
    return Connection(checked_url(url or DEFAULT_API_URL), found.token.strip(), found.origin)


def _logged_in_url(sources: Sequence[TokenSource]) -> str | None:
    """The URL a source stored with its token (``loopback login``'s), for a token from elsewhere.

    A source that cannot be read (the data directory of another user) stores no URL for this one.
    """
    for source in sources:
        try:
            found = source.find()
        except NoToken:
            continue
        if found is not None and found.api_url:
            return found.api_url
    return None
