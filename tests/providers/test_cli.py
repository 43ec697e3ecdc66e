"""``loopback providers ...`` against the API over real HTTP: output, secrets, problems, exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopback.app import create_app
from loopback.client.errors import ExitCode
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from loopback.tenancy.service import issue_user_token
from tests.live_server import LiveServer
from tests.tenancy.test_cli import Cli

SECRET_ENV = "SECOND_SECRET"


@pytest.fixture
def cli(runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.chdir(tmp_path)
    with LiveServer(create_app(runtime)) as server:
        yield Cli(server.url, tmp_path)


def add_second(cli: Cli, seaweedfs: EmbeddedSeaweedFS, *extra: str, **env: str) -> str:
    result = cli.ok(
        "providers",
        "add",
        "second",
        "--family",
        "s3",
        "--display-name",
        "Second storage",
        "--access-key-id",
        seaweedfs.identity.access_key_id,
        "--secret-access-key-env",
        SECRET_ENV,
        "--region",
        f"code=sw-1,name=SeaweedFS,endpoint={seaweedfs.endpoint},country=DE",
        *extra,
        **{SECRET_ENV: seaweedfs.identity.secret_access_key, **env},
    )
    return result.output


def test_the_operator_adds_lists_shows_and_changes_a_provider(cli: Cli, seaweedfs: EmbeddedSeaweedFS) -> None:
    secret = seaweedfs.identity.secret_access_key
    key = seaweedfs.identity.access_key_id
    outputs = [add_second(cli, seaweedfs, "--secret", "api_token=TOKEN_ENV", TOKEN_ENV="token-from-env-123")]
    assert "sw-1" in outputs[0]
    assert f"{key[:4]}…" in outputs[0]
    assert "try it with `loopback providers test second`" in outputs[0]

    listed = cli.ok("providers", "list").stdout
    outputs.append(listed)
    assert "second" in listed
    assert "Second storage" in listed
    assert "1 of 1 enabled" in listed
    assert "never tested" in listed

    shown = cli.json("providers", "show", "second")
    assert shown["access_key_id"] == f"{key[:4]}…"
    assert set(shown["secrets"]) == {"api_token"}
    assert shown["regions"][0]["country"] == "DE"

    changed = cli.json(
        "providers",
        "update",
        "second",
        "--display-name",
        "Second",
        "--disable-region",
        "sw-1",
        "--region",
        f"code=sw-2,name=Two,endpoint={seaweedfs.endpoint}",
        "--setting",
        "isolation=organization",
    )
    assert changed["display_name"] == "Second"
    assert [(r["code"], r["enabled"]) for r in changed["regions"]] == [("sw-1", False), ("sw-2", True)]
    assert changed["settings"] == {"isolation": "organization"}
    unset = cli.json(
        "providers", "update", "second", "--unset-setting", "isolation", "--remove-secret", "api_token"
    )
    assert unset["settings"] == {}
    assert unset["secrets"] == {}

    disabled = cli.ok("providers", "disable", "second")
    assert "takes no new buckets; its existing buckets keep working" in disabled.stderr
    assert cli.json("providers", "show", "second")["enabled"] is False
    assert cli.json("providers", "enable", "second")["enabled"] is True

    tested = cli.ok("providers", "test", "second")
    outputs.append(tested.output)
    for step in ("create bucket", "issue key", "write object", "read object", "delete object", "revoke key"):
        assert step in tested.stdout
    assert "Provider 'second' passed in region sw-2" in tested.stderr
    assert "ok at" in cli.ok("providers", "list").stdout

    # Rotation: a secret typed at the prompt (no echo), which the next round trip then uses.
    rotated = cli.ok("providers", "update", "second", "--access-key-id", key, stdin="a-wrong-secret\n")
    outputs.append(rotated.output)
    failing = cli("providers", "test", "second", "--region", "sw-2")
    outputs.append(failing.output)
    assert failing.exit_code == ExitCode.REFUSED, failing.output
    assert "Provider 'second' failed in region sw-2: create bucket:" in failing.stderr
    assert "failing at" in cli.ok("providers", "list").stdout

    for output in outputs:
        assert secret not in output
        assert "a-wrong-secret" not in output
        assert "token-from-env-123" not in output
        assert key not in output


def test_problems_come_back_with_their_field_and_exit_code(
    cli: Cli, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    unknown = cli("providers", "add", "odd", "--family", "swift")
    assert unknown.exit_code == ExitCode.REFUSED
    assert "family: unknown family 'swift'" in unknown.stderr

    bad = cli("providers", "add", "odd", "--family", "s3", "--region", "code=r-1,name=R,endpoint=nope")
    assert bad.exit_code == ExitCode.REFUSED
    assert "regions[0].endpoint:" in bad.stderr

    missing = cli("providers", "show", "nobody")
    assert missing.exit_code == ExitCode.REFUSED
    assert "nobody" in missing.stderr

    unset = cli(
        "providers",
        "add",
        "odd",
        "--family",
        "s3",
        "--access-key-id",
        "KEY",
        "--secret-access-key-env",
        "NOT_SET",
    )
    assert unset.exit_code == ExitCode.USAGE
    assert "NOT_SET" in unset.output

    add_second(cli, seaweedfs)
    taken = cli("providers", "add", "second", "--family", "s3")
    assert taken.exit_code == ExitCode.REFUSED
    assert "exists" in taken.stderr
    assert cli("providers", "update", "second").exit_code == ExitCode.USAGE  # nothing to change

    with runtime.db.session() as session:
        member = issue_user_token(session, "someone@demo.test", "cli", None).secret
    refused = cli("providers", "list", token=member)
    assert refused.exit_code == ExitCode.AUTH
    assert "providers.read" in refused.stderr
    refused = cli("providers", "test", "second", token=member)
    assert refused.exit_code == ExitCode.AUTH
    assert "providers.manage" in refused.stderr
