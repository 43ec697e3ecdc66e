"""``loopback login|logout``: the token is checked, stored for this user alone, found by later commands."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopback.app import create_app
from loopback.client.connection import LoginFile, connect
from loopback.kit.ports import free_ports
from loopback.runtime import Runtime
from tests.buckets.test_cli import OPERATOR_TOKEN, Cli, ExitCode
from tests.live_server import LiveServer

OPERATOR = "operator@loopback.local"


@pytest.fixture
def cli(runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.chdir(tmp_path)
    with LiveServer(create_app(runtime)) as server:
        yield Cli(server.url, tmp_path)


def stored(cli: Cli) -> Path:
    return cli.home / "config" / "login.json"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_login_stores_url_and_token_for_this_user_only_and_later_commands_use_them(cli: Cli) -> None:
    assert cli.api_url is not None
    result = cli.ok("login", "--api-url", cli.api_url, "--token", OPERATOR_TOKEN, token=None)

    assert f"Logged in to {cli.api_url} as {OPERATOR}" in result.stderr
    assert OPERATOR_TOKEN not in result.output
    path = stored(cli)
    assert json.loads(path.read_text()) == {"api_url": cli.api_url, "token": OPERATOR_TOKEN}
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["login.json"]  # no partial file left

    # neither a token nor an API URL in the environment: both come from the login
    assert cli.json("whoami", token=None, LOOPBACK_API_URL=None)["email"] == OPERATOR
    assert cli.json("buckets", "list", token=None, LOOPBACK_API_URL=None)["buckets"] == []

    # a flag still beats the stored URL
    elsewhere = f"http://127.0.0.1:{free_ports(1)[0]}"
    moved = cli("whoami", "--api-url", elsewhere, token=None, LOOPBACK_API_URL=None)
    assert moved.exit_code == ExitCode.UNAVAILABLE
    assert f"cannot reach the API at {elsewhere}" in moved.stderr


def test_a_token_given_for_one_command_goes_to_the_logged_in_url(cli: Cli) -> None:
    """After ``login --api-url X``, ``--token T`` and ``LOOPBACK_TOKEN=T`` mean "T, at X", not the default."""
    issued = cli.json("tokens", "create", "laptop")
    cli.ok("login", "--api-url", str(cli.api_url), "--token", issued["token"], token=None)

    by_flag = cli.json("whoami", "--token", OPERATOR_TOKEN, token=None, LOOPBACK_API_URL=None)
    assert by_flag["email"] == OPERATOR
    assert by_flag["token_id"] != issued["id"]  # the flag's token, sent to the login's URL
    by_env = cli.json("whoami", token=OPERATOR_TOKEN, LOOPBACK_API_URL=None)
    assert by_env["token_id"] == by_flag["token_id"]


def test_a_wrong_token_is_refused_and_nothing_is_stored(cli: Cli) -> None:
    result = cli("login", "--token", "lbk_not-a-real-token", token=None)

    assert result.exit_code == ExitCode.AUTH
    assert "refused this token" in result.stderr
    assert "nothing was stored" in result.stderr
    assert "lbk_not-a-real-token" not in result.output
    assert not stored(cli).exists()


def test_an_api_that_does_not_answer_stores_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    offline = Cli(f"http://127.0.0.1:{free_ports(1)[0]}", tmp_path)

    result = offline("login", "--token", OPERATOR_TOKEN, token=None)

    assert result.exit_code == ExitCode.UNAVAILABLE
    assert "cannot reach the API" in result.stderr
    assert not stored(offline).exists()
    assert offline("login", "--api-url", "localhost:8080", "--token", "x").exit_code == ExitCode.USAGE


def test_a_piped_token_is_read_from_stdin_without_a_prompt_or_a_warning(cli: Cli) -> None:
    result = cli.ok("login", token=None, stdin=OPERATOR_TOKEN + "\n")

    assert "API token for" not in result.stderr  # no one at a terminal to prompt
    assert OPERATOR_TOKEN not in result.output
    assert json.loads(stored(cli).read_text())["token"] == OPERATOR_TOKEN

    empty = cli("login", token=None, stdin="")
    assert empty.exit_code == ExitCode.USAGE
    assert "no API token: standard input is not a terminal" in empty.stderr

    # a real process with a real pipe: getpass would warn that it cannot hide the input
    piped = subprocess.run(
        [sys.executable, "-m", "loopback", "login", "--api-url", str(cli.api_url)],
        input=OPERATOR_TOKEN + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LOOPBACK_CONFIG_DIR": str(cli.home / "piped"), "LOOPBACK_TOKEN": ""},
    )
    assert piped.returncode == 0, piped.stderr
    assert "Warning" not in piped.stderr
    assert f"Logged in to {cli.api_url} as {OPERATOR}" in piped.stderr


def test_logout_forgets_the_login_and_the_next_command_says_how_to_log_in(cli: Cli) -> None:
    cli.ok("login", "--token", OPERATOR_TOKEN, token=None)

    out = cli.ok("logout")
    assert "Removed" in out.stderr
    assert "still works until revoked" in out.stderr
    assert not stored(cli).exists()
    assert "Not logged in" in cli.ok("logout").stderr

    after = cli("whoami", token=None)
    assert after.exit_code == ExitCode.AUTH
    assert "run `loopback login`" in after.stderr


def test_a_revoked_stored_token_is_named_as_the_login(cli: Cli) -> None:
    issued = cli.json("tokens", "create", "laptop")
    cli.ok("login", "--token", issued["token"], token=None)
    cli.ok("tokens", "revoke", issued["id"])

    refused = cli("whoami", token=None, LOOPBACK_API_URL=None)

    assert refused.exit_code == ExitCode.AUTH
    assert f"the token came from `loopback login` ({stored(cli)})" in refused.stderr
    assert "`loopback login`" in refused.stderr


def test_a_project_token_can_log_in_and_acts_in_its_project(cli: Cli) -> None:
    issued = cli.json(
        "tokens", "create", "ci", "--org", "demo", "--project", "default", "--role-cap", "member"
    )
    login = cli.ok("login", "--token", issued["token"], token=None)
    assert "as a project token of demo/default" in login.stderr

    listed = cli.json("buckets", "list", token=None, LOOPBACK_ORG="demo", LOOPBACK_PROJECT="default")
    assert listed["buckets"] == []
    assert cli.json("buckets", "list", token=None) == listed  # its own project, unnamed


def test_the_environment_token_comes_before_the_login(cli: Cli) -> None:
    cli.ok("login", "--token", OPERATOR_TOKEN, token=None)

    refused = cli("whoami", token="lbk_not-a-real-token")

    assert refused.exit_code == ExitCode.AUTH
    assert "the token came from LOOPBACK_TOKEN" in refused.stderr


def test_an_unreadable_login_file_says_to_log_in_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPBACK_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("LOOPBACK_TOKEN", raising=False)
    (tmp_path / "login.json").write_text("not json")

    with pytest.raises(Exception, match=r"run `loopback login` again"):
        connect()


def test_saving_again_keeps_the_file_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPBACK_CONFIG_DIR", str(tmp_path / "config"))
    (tmp_path / "config").mkdir(mode=0o755)
    path = tmp_path / "config" / "login.json"
    path.write_text("{}")
    path.chmod(0o644)

    LoginFile().save("https://loopback.example", "lbk_secret")

    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    found = LoginFile().find()
    assert found is not None
    assert (found.api_url, found.token) == ("https://loopback.example", "lbk_secret")
    monkeypatch.delenv("LOOPBACK_TOKEN", raising=False)
    monkeypatch.delenv("LOOPBACK_API_URL", raising=False)
    assert connect().api_url == "https://loopback.example"
