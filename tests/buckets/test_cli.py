"""``loopback buckets|credentials|regions|usage`` against the API over real HTTP, with the worker running.

Every test drives the Typer app with ``CliRunner`` against uvicorn serving ``create_app(runtime)``;
buckets are provisioned for real on the session's SeaweedFS (provider ``local``, region ``local-1``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner, Result

from loopback.buckets import service as bucket_service
from loopback.cli import app
from loopback.client.errors import ExitCode
from loopback.client.output import ago, human_bytes
from loopback.credentials.cli.issue import environment
from loopback.kit.ports import free_ports
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from tests.buckets.test_tasks import add_provider
from tests.conftest import unique_bucket_name, wait_for

OPERATOR_TOKEN = "lbk_test-operator-token"


@dataclass
class Cli:
    """``loopback ...`` as a user in a fresh shell runs it: only what a test sets is in the environment."""

    api_url: str | None
    home: Path

    def __call__(
        self, *args: str, token: str | None = OPERATOR_TOKEN, stdin: str | None = None, **env: str | None
    ) -> Result:
        environment: dict[str, str | None] = {
            "LOOPBACK_API_URL": self.api_url,
            "LOOPBACK_TOKEN": token,
            "LOOPBACK_ORG": None,
            "LOOPBACK_PROJECT": None,
            "LOOPBACK_DATA_DIR": str(self.home / "no-data-dir"),
            "LOOPBACK_CONFIG_DIR": str(self.home / "config"),
            "XDG_CONFIG_HOME": str(self.home / "xdg"),
            "COLUMNS": "250",
            "NO_COLOR": "1",
            "FORCE_COLOR": None,
            **env,
        }
        return CliRunner().invoke(app, list(args), env=environment, input=stdin)

    def ok(self, *args: str, **kwargs: Any) -> Result:
        result = self(*args, **kwargs)
        assert result.exit_code == ExitCode.OK, result.output
        return result

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self.ok(*args, "--output", "json", **kwargs).stdout)

    def ready_bucket(self, prefix: str = "cli") -> dict[str, Any]:
        name = unique_bucket_name(prefix)
        bucket: dict[str, Any] = self.json(
            "buckets", "create", name, "--provider", "local", "--region", "local-1", "--wait"
        )
        assert bucket["status"] == "ready", bucket
        return bucket


def env_lines(stdout: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in stdout.splitlines() if line.startswith("AWS_"))
    return dict(pairs)


# --- buckets -------------------------------------------------------------------------------------


def test_create_wait_then_list_show_and_events_by_name(cli: Cli) -> None:
    name = unique_bucket_name("cli")
    created = cli.ok("buckets", "create", name, "--provider", "local", "--region", "local-1", "--wait")
    assert f"bucket {name!r}: ready" in created.stderr
    assert name in created.stdout
    assert "ready" in created.stdout
    assert "http://" in created.stdout  # the endpoint

    table = cli.ok("buckets", "list").stdout
    assert name in table
    assert "local-1" in table
    assert "ago" in table or "just now" in table
    listed = cli.json("buckets", "list")
    assert [b["name"] for b in listed["buckets"]] == [name]
    assert listed["next_cursor"] is None

    by_name = cli.json("buckets", "show", name)
    assert by_name["status"] == "ready"
    by_id = cli.json("buckets", "show", by_name["id"])
    moving = {"usage", "updated_at"}  # a usage round may sync the bucket between the two
    assert {k: v for k, v in by_id.items() if k not in moving} == {
        k: v for k, v in by_name.items() if k not in moving
    }
    shown = cli.ok("buckets", "show", name).stdout
    assert by_name["id"] in shown
    assert by_name["created_at"][:10] in shown

    events = cli.ok("buckets", "events", name).stdout
    assert events.index("ready") < events.index("provisioning") < events.index("created")  # newest first
    assert [e["kind"] for e in cli.json("buckets", "events", name)["events"]] == [
        "created",
        "provisioning",
        "ready",
    ]


def test_without_wait_create_answers_pending_at_once(cli: Cli) -> None:
    name = unique_bucket_name("cli")
    created = cli.json("buckets", "create", name, "--provider", "local", "--region", "local-1")
    assert created["status"] == "pending"
    assert created["name"] == name


def test_the_org_and_project_are_the_only_ones_or_must_be_named(cli: Cli) -> None:
    cli.ok("projects", "create", "second", "--org", "demo")

    ambiguous = cli("buckets", "list")
    assert ambiguous.exit_code == ExitCode.USAGE
    assert "which project? there are 2: default, second" in ambiguous.stderr
    assert "pass --project SLUG or set LOOPBACK_PROJECT" in ambiguous.stderr

    assert cli.json("buckets", "list", LOOPBACK_PROJECT="second")["buckets"] == []
    assert "No buckets in demo/second" in cli.ok("buckets", "list", "--project", "second").stderr

    cli.ok("orgs", "create", "acme")
    two_orgs = cli("buckets", "list", "--project", "default")
    assert two_orgs.exit_code == ExitCode.USAGE
    assert "which organization? there are 2: acme, demo" in two_orgs.stderr
    assert "--org" in two_orgs.stderr
    assert cli.json("buckets", "list", "--org", "demo", "--project", "default")["buckets"] == []


def test_a_project_token_acts_in_its_own_project_without_org_or_project(cli: Cli) -> None:
    cli.ok("projects", "create", "second", "--org", "demo")
    cli.ok("orgs", "create", "acme")  # a personal token would have to name both here
    token = cli.json(
        "tokens", "create", "ci", "--org", "demo", "--project", "second", "--role-cap", "member"
    )["token"]
    name = unique_bucket_name("tok")

    created = cli.json(
        "buckets", "create", name, "--provider", "local", "--region", "local-1", "--wait", token=token
    )

    assert created["status"] == "ready"
    assert [b["name"] for b in cli.json("buckets", "list", token=token)["buckets"]] == [name]
    assert name in cli.ok("buckets", "list", token=token).stdout
    assert (
        cli.json("buckets", "list", "--org", "demo", "--project", "second")["buckets"][0]["id"]
        == created["id"]
    )
    assert cli.json("buckets", "list", "--org", "demo", "--project", "default")["buckets"] == []
    issued = cli.json("credentials", "issue", name, token=token)
    listed = cli.json("credentials", "list", token=token)["credentials"]
    assert [c["id"] for c in listed] == [issued["id"]]
    assert cli.json("usage", name, token=token)["id"] == created["id"]
    # with either flag alone it checks the flag against the token's project
    assert cli.json("buckets", "list", "--project", "second", token=token)["buckets"][0]["name"] == name

    elsewhere = cli("buckets", "list", "--project", "default", token=token)
    assert elsewhere.exit_code == ExitCode.USAGE
    assert "this project token acts in demo/second only, not in demo/default" in elsewhere.stderr
    other_org = cli("buckets", "list", token=token, LOOPBACK_ORG="acme")
    assert other_org.exit_code == ExitCode.USAGE
    assert "not in acme/second" in other_org.stderr

    summary = cli("usage", token=token)  # the organization's summary is for its members' own tokens
    assert summary.exit_code == ExitCode.AUTH
    assert "permission usage.read" in summary.stderr
    assert "`loopback buckets list` shows each one's objects and size" in summary.stderr


def test_an_unknown_bucket_name_says_where_it_looked_and_what_to_do(cli: Cli) -> None:
    result = cli("buckets", "show", "no-such-bucket")

    assert result.exit_code == ExitCode.REFUSED
    assert "no bucket named 'no-such-bucket' in demo/default" in result.stderr
    assert "`loopback buckets list`" in result.stderr

    by_id = cli("buckets", "show", "bkt_doesnotexist")
    assert by_id.exit_code == ExitCode.REFUSED
    assert "bucket bkt_doesnotexist does not exist" in by_id.stderr


def test_a_refused_placement_lists_each_field_and_points_at_regions(cli: Cli) -> None:
    result = cli("buckets", "create", "fine-name", "--provider", "local", "--region", "mars-1")

    assert result.exit_code == ExitCode.REFUSED
    assert "error: invalid input (422)" in result.stderr
    assert any(line.startswith("region: ") for line in result.stderr.splitlines())
    assert "`loopback regions` lists the providers and regions" in result.stderr
    assert "provider 'local' has no region 'mars-1'" in result.stderr
    assert "/v3/" not in result.stderr  # CLI advice, not the API's route

    unknown = cli("buckets", "create", "fine-name", "--provider", "nowhere", "--region", "mars-1")
    assert "provider: no provider named 'nowhere'" in unknown.stderr
    assert "/v3/" not in unknown.stderr


def test_create_help_says_which_names_are_allowed(cli: Cli) -> None:
    shown = " ".join(cli.ok("buckets", "create", "--help").stdout.split())
    assert "hyphens and dots" in shown


def test_deleting_a_bucket_with_objects_needs_force_then_waits_until_deleted(
    cli: Cli, operator_s3: Any
) -> None:
    bucket = cli.ready_bucket()
    name = bucket["name"]
    operator_s3.put_object(Bucket=name, Key="keep-me", Body=b"x")

    counted = cli("buckets", "delete", name, stdin="y\n")  # refused before the question, not after the yes
    assert counted.exit_code == ExitCode.REFUSED
    assert f"error: bucket {name!r} holds 1 object; delete them first, or pass --force" in counted.stderr
    assert "Delete bucket" not in counted.output

    declined = cli("buckets", "delete", name, "--force", stdin="n\n")
    assert declined.exit_code == ExitCode.REFUSED
    assert f"Delete bucket {name!r} of demo/default and every object in it" in declined.output

    refused = cli("buckets", "delete", name, "--yes")
    assert refused.exit_code == ExitCode.REFUSED
    assert f"error: bucket {name!r} holds 1 object; delete them first, or pass --force" in refused.stderr
    assert "force=true" not in refused.stderr
    scripted = cli("buckets", "delete", name, "--yes", "--output", "json")
    assert json.loads(scripted.stdout)["status"] == 409
    assert cli.json("buckets", "show", name)["status"] == "ready"

    deleted = cli.ok("buckets", "delete", name, "--force", "--yes", "--wait")
    assert "deleted" in deleted.stdout
    assert f"Bucket {name!r} is deleted." in deleted.stderr
    assert name not in [b["Name"] for b in operator_s3.list_buckets()["Buckets"]]

    assert cli.json("buckets", "list")["buckets"] == []
    history = cli.json("buckets", "list", "--all")["buckets"]
    assert [(b["name"], b["status"]) for b in history] == [(name, "deleted")]
    assert [b["id"] for b in cli.json("buckets", "list", "--status", "deleted")["buckets"]] == [bucket["id"]]

    empty = cli.ready_bucket()["name"]  # counted empty: the question comes, and a yes deletes it
    asked = cli.ok("buckets", "delete", empty, stdin="y\n")
    assert f"Delete bucket {empty!r} of demo/default, and revoke its credentials?" in asked.output


def test_wait_on_an_unreachable_provider_gives_up_with_exit_3(
    cli: Cli, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    add_provider(runtime, seaweedfs, "unreachable", f"http://127.0.0.1:{free_ports(1)[0]}")
    name = unique_bucket_name("cli")

    result = cli(
        "buckets", "create", name, "--provider", "unreachable", "--region", "r1", "--wait", "--timeout", "1"
    )

    assert result.exit_code == ExitCode.UNAVAILABLE
    assert "error: gave up waiting after 1 s" in result.stderr
    assert f"bucket {name!r}: p" in result.stderr  # pending or provisioning
    assert "--timeout" in result.stderr
    assert cli.json("buckets", "show", name)["status"] in ("pending", "provisioning")


def test_wait_on_a_bucket_that_fails_exits_1_with_the_reason(
    cli: Cli, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bucket_service, "MAX_ATTEMPTS", 2)
    monkeypatch.setattr(bucket_service, "BACKOFF_BASE_SECONDS", 0.2)
    add_provider(runtime, seaweedfs, "gone", f"http://127.0.0.1:{free_ports(1)[0]}")
    name = unique_bucket_name("cli")

    result = cli(
        "buckets", "create", name, "--provider", "gone", "--region", "r1", "--wait", "--timeout", "30"
    )

    assert result.exit_code == ExitCode.REFUSED
    assert f"error: bucket {name!r} is failed: create failed (gave up after 2 attempts)" in result.stderr
    assert "`loopback buckets replace" in result.stderr
    assert "failed" in result.stdout


# --- credentials ---------------------------------------------------------------------------------


def test_an_issued_key_works_with_boto3_is_listed_without_its_secret_and_revoked(cli: Cli) -> None:
    bucket = cli.ready_bucket()
    name = bucket["name"]

    issued = cli.ok("credentials", "issue", name)
    assert "shown this once" in issued.stderr
    values = env_lines(issued.stdout)
    assert set(values) == {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
    }
    assert values["AWS_ENDPOINT_URL"] == bucket["endpoint"]
    s3 = boto3.client(
        "s3",
        endpoint_url=values["AWS_ENDPOINT_URL"],
        aws_access_key_id=values["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=values["AWS_SECRET_ACCESS_KEY"],
        region_name=values["AWS_REGION"],
    )
    s3.put_object(Bucket=name, Key="hello.txt", Body=b"hello")

    table = cli.ok("credentials", "list", name).stdout
    assert values["AWS_ACCESS_KEY_ID"] in table
    assert values["AWS_SECRET_ACCESS_KEY"] not in table
    listed = cli.json("credentials", "list", name)["credentials"]
    assert [c["access_key_id"] for c in listed] == [values["AWS_ACCESS_KEY_ID"]]
    assert "secret_access_key" not in listed[0]
    assert values["AWS_SECRET_ACCESS_KEY"] not in json.dumps(listed)

    revoked = cli.ok("credentials", "revoke", name, values["AWS_ACCESS_KEY_ID"], "--yes")  # by access key
    assert f"Revoked credential {listed[0]['id']}" in revoked.stderr
    assert cli.json("credentials", "list", name)["credentials"][0]["status"] == "revoked"

    def refused() -> bool:
        try:
            s3.list_objects_v2(Bucket=name)
        except ClientError:
            return True
        return False

    wait_for(refused, timeout=10)

    scripted = cli.json("credentials", "issue", bucket["id"])
    assert scripted["secret_access_key"]
    assert scripted["bucket"] == name
    assert cli.ok("credentials", "revoke", name, scripted["id"], "--yes").exit_code == 0


# --- usage and regions ---------------------------------------------------------------------------


def test_usage_refresh_counts_the_objects_just_put(cli: Cli, operator_s3: Any) -> None:
    bucket = cli.ready_bucket()
    name = bucket["name"]
    operator_s3.put_object(Bucket=name, Key="one", Body=b"x" * 1000)
    operator_s3.put_object(Bucket=name, Key="dir/two", Body=b"y" * 24)

    refreshed = cli.ok("usage", name, "--refresh")
    assert "1.0 KiB (1024 bytes)" in refreshed.stdout
    assert "ago" in refreshed.stdout or "just now" in refreshed.stdout
    usage = cli.json("usage", name)["usage"]
    assert (usage["object_count"], usage["bytes"]) == (2, 1024)

    summary = cli.json("usage")
    assert summary["organization"] == "demo"
    assert (summary["buckets"], summary["object_count"], summary["bytes"]) == (1, 2, 1024)
    table = cli.ok("usage", "--org", "demo").stdout
    assert "default" in table
    assert "(total)" in table
    assert "1.0 KiB" in table

    needs_bucket = cli("usage", "--refresh")
    assert needs_bucket.exit_code == ExitCode.USAGE


def test_regions_list_the_pickable_places_and_filter(cli: Cli) -> None:
    table = cli.ok("regions").stdout
    assert "local-1" in table
    assert "local" in table
    regions = cli.json("regions")["regions"]
    assert {"provider": "local", "code": "local-1"}.items() <= regions[0].items()
    assert cli.json("regions", "--provider", "local")["regions"] == [
        r for r in regions if r["provider"] == "local"
    ]
    assert cli.json("regions", "--provider", "nowhere")["regions"] == []
    assert "No region matches" in cli.ok("regions", "--family", "nothing").stderr


def test_every_answer_parses_as_json_for_scripts(cli: Cli) -> None:
    bucket = cli.ready_bucket()
    for command in (
        ["buckets", "list"],
        ["buckets", "list", "--all"],
        ["buckets", "show", bucket["name"]],
        ["buckets", "events", bucket["name"]],
        ["credentials", "list", bucket["name"]],
        ["regions"],
        ["usage"],
        ["usage", bucket["name"]],
    ):
        assert isinstance(cli.json(*command), dict), command


# --- rendering -----------------------------------------------------------------------------------


def test_sizes_are_in_binary_units_and_times_relative() -> None:
    assert [human_bytes(n) for n in (None, 0, 1023, 1024, 1_288_490, 5 * 1024**4)] == [
        "-",
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.2 MiB",
        "5.0 TiB",
    ]
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    at = lambda delta: (now - delta).isoformat()  # noqa: E731
    assert ago(at(timedelta(seconds=2)), now) == "just now"
    assert ago(at(timedelta(minutes=3, seconds=10)), now) == "3 minutes ago"
    assert ago(at(timedelta(hours=1)), now) == "1 hour ago"
    assert ago(at(-timedelta(seconds=20)), now) == "in 20 seconds"
    assert ago(at(timedelta(days=40)), now) == "2025-04-22"
    assert ago("2025-06-01T11:59:00Z", now) == "1 minute ago"
    assert ago(None, now) == "-"


def test_environment_lines_quote_what_a_shell_would_split() -> None:
    lines = environment({"access_key_id": "AK", "secret_access_key": "a b", "endpoint": None, "region": "r1"})
    assert lines == [
        "AWS_ACCESS_KEY_ID=AK",
        "AWS_SECRET_ACCESS_KEY='a b'",
        "AWS_DEFAULT_REGION=r1",
        "AWS_REGION=r1",
    ]
