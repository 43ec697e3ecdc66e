"""``loopback credentials ...`` against the API over real HTTP, with keys used for real on SeaweedFS.

The CLI runs in-process with ``CliRunner`` against uvicorn serving ``create_app(runtime)``, as in
``tests/buckets/test_cli.py``; every key it prints is then used with boto3 (or a shell) to prove it
does what the command said.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from loopback.app import create_app
from loopback.client.errors import ExitCode
from loopback.credentials.cli import issue as credentials_cli
from loopback.credentials.cli import keys as credential_keys
from loopback.credentials.formats import FORMATS
from loopback.runtime import Runtime
from tests.buckets.test_cli import Cli, env_lines
from tests.conftest import wait_for
from tests.live_server import LiveServer


@pytest.fixture
def cli(runtime: Runtime, worker: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.chdir(tmp_path)  # no ./.loopback/bootstrap-token of a developer's checkout applies
    with LiveServer(create_app(runtime)) as server:
        yield Cli(server.url, tmp_path)


def s3_for(values: dict[str, str]) -> Any:
    """boto3 S3 from the ``AWS_...`` lines ``issue`` and ``rotate`` print."""
    return boto3.client(
        "s3",
        endpoint_url=values["AWS_ENDPOINT_URL"],
        aws_access_key_id=values["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=values["AWS_SECRET_ACCESS_KEY"],
        region_name=values["AWS_REGION"],
    )


def error_code(call: Any) -> str | None:
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return None


def wait_until_known(s3: Any, bucket: str) -> None:
    """SeaweedFS learns a new key within moments; until then it answers InvalidAccessKeyId."""
    wait_for(
        lambda: error_code(lambda: s3.head_object(Bucket=bucket, Key="never-there")) != "InvalidAccessKeyId",
        timeout=10,
    )


def wait_until_refused(s3: Any, bucket: str) -> None:
    wait_for(lambda: error_code(lambda: s3.list_objects_v2(Bucket=bucket)) is not None, timeout=10)


# --- issue ---------------------------------------------------------------------------------------


def test_a_read_only_key_over_two_buckets_reads_both_and_writes_neither(cli: Cli, operator_s3: Any) -> None:
    first, second = cli.ready_bucket("ro"), cli.ready_bucket("ro")
    for bucket in (first, second):
        operator_s3.put_object(Bucket=bucket["name"], Key="seed", Body=b"seed")

    issued = cli.ok(
        "credentials", "issue", first["name"], second["id"], "--access", "read-only", "--name", "reader"
    )

    assert "shown this once" in issued.stderr
    assert f"{first['name']} (read-only), {second['name']} (read-only)" in issued.stdout
    values = env_lines(issued.stdout)
    assert set(values) == {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    }
    assert values["AWS_REGION"] == values["AWS_DEFAULT_REGION"] == "local-1"
    s3 = s3_for(values)
    wait_until_known(s3, first["name"])
    for bucket in (first, second):
        assert s3.get_object(Bucket=bucket["name"], Key="seed")["Body"].read() == b"seed"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket["name"])["Contents"]] == ["seed"]
        put = lambda name=bucket["name"]: s3.put_object(Bucket=name, Key="nope", Body=b"x")  # noqa: E731
        assert error_code(put) == "AccessDenied"
        assert error_code(lambda name=bucket["name"]: s3.delete_object(Bucket=name, Key="seed")) == (
            "AccessDenied"
        )

    key = cli.json("credentials", "show", values["AWS_ACCESS_KEY_ID"])
    assert key["name"] == "reader"
    assert [(g["bucket"], g["access"]) for g in key["grants"]] == [
        (first["name"], "read-only"),
        (second["name"], "read-only"),
    ]


def test_per_bucket_modes_and_one_bucket_through_its_own_route(cli: Cli) -> None:
    logs, drop = cli.ready_bucket("logs"), cli.ready_bucket("drop")

    mixed = cli.json(
        "credentials", "issue", f"{logs['name']}:read-only", drop["name"], "--access", "write-only"
    )
    assert [(g["bucket"], g["access"]) for g in mixed["grants"]] == [
        (logs["name"], "read-only"),
        (drop["name"], "write-only"),
    ]
    assert mixed["buckets"] == [logs["name"], drop["name"]]

    single = cli.json("credentials", "issue", f"{logs['id']}:write-only", "--prefix", "in/", "--name", "one")
    assert [(g["bucket_id"], g["access"], g["prefix"]) for g in single["grants"]] == [
        (logs["id"], "write-only", "in/")
    ]
    assert [c["id"] for c in cli.json("credentials", "list", logs["name"])["credentials"]] == [
        mixed["id"],
        single["id"],
    ]

    bad_mode = cli("credentials", "issue", f"{logs['name']}:everything")
    assert bad_mode.exit_code == ExitCode.USAGE
    assert "read-write, read-only, write-only" in bad_mode.stderr
    both = cli("credentials", "issue", logs["name"], "--expires-in-days", "1", "--expires-at", "2030-01-01")
    assert both.exit_code == ExitCode.USAGE
    unknown = cli("credentials", "issue", logs["name"], "no-such-bucket")
    assert unknown.exit_code == ExitCode.REFUSED
    assert "no bucket named 'no-such-bucket' in demo/default" in unknown.stderr


def test_format_env_is_the_whole_stdout_and_a_shell_that_sources_it_reaches_the_bucket(
    cli: Cli, tmp_path: Path, operator_s3: Any
) -> None:
    bucket = cli.ready_bucket("env")
    name = bucket["name"]

    issued = cli.ok("credentials", "issue", name, "--format", "env", "--name", "deploy")

    assert issued.stdout.startswith("# Loopback key deploy (crd_")
    assert "shown this once" in issued.stderr
    assert "shown this once" not in issued.stdout
    lines = [line for line in issued.stdout.splitlines() if not line.startswith("#")]
    assert [line.split("=", 1)[0] for line in lines] == [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
    ]
    dotenv = tmp_path / ".env"
    dotenv.write_text(issued.stdout)
    values = env_lines(issued.stdout)
    wait_until_known(s3_for(values), name)

    script = (
        "import boto3, sys; "
        "s3 = boto3.client('s3'); "  # endpoint, region and key from the environment alone
        "s3.put_object(Bucket=sys.argv[1], Key='from-env.txt', Body=b'sourced')"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    clean["AWS_CONFIG_FILE"] = clean["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "none")
    subprocess.run(
        [
            "bash",
            "-c",
            'set -a && . ./.env && set +a && exec "$0" -c "$1" "$2"',
            sys.executable,
            script,
            name,
        ],
        cwd=tmp_path,
        env=clean,
        check=True,
        timeout=60,
    )
    assert operator_s3.get_object(Bucket=name, Key="from-env.txt")["Body"].read() == b"sourced"

    other = cli.ready_bucket("env")
    manifests = cli.ok("credentials", "issue", name, other["name"], "--format", "kubernetes").stdout
    secrets = list(yaml.safe_load_all(manifests))
    assert [s["stringData"]["COSI_S3_BUCKET_ID"] for s in secrets] == [name, other["name"]]

    clash = cli("credentials", "issue", name, "--format", "env", "--output", "json")
    assert clash.exit_code == ExitCode.USAGE
    refused = cli("credentials", "issue", name, "--format", "env", "--prefix", "/rooted")
    assert refused.exit_code == ExitCode.REFUSED
    assert refused.stdout == ""  # nothing a `> .env` would keep
    assert "error: invalid input (422)" in refused.stderr


def test_the_file_formats_are_the_apis() -> None:
    assert tuple(f.value for f in credentials_cli.FileFormat) == FORMATS


def test_environment_lines_name_the_region_for_old_and_new_sdks() -> None:
    lines = credentials_cli.environment(
        {"access_key_id": "AK", "secret_access_key": "s", "endpoint": "http://s3:1", "region": "r1"}
    )
    assert lines == [
        "AWS_ACCESS_KEY_ID=AK",
        "AWS_SECRET_ACCESS_KEY=s",
        "AWS_ENDPOINT_URL=http://s3:1",
        "AWS_DEFAULT_REGION=r1",
        "AWS_REGION=r1",
    ]


# --- list, show, update --------------------------------------------------------------------------


def test_the_project_list_shows_every_key_with_its_buckets_modes_and_expiry(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs, backups = cli.ready_bucket("logs"), cli.ready_bucket("backups")
    soon = cli.json(
        "credentials",
        "issue",
        f"{logs['name']}:read-only",
        f"{backups['name']}:write-only",
        "--name",
        "soon",
        "--expires-in-days",
        "3",
    )
    late = cli.json("credentials", "issue", logs["name"], "--expires-at", "2099-01-02T03:04:05Z")
    forever = cli.json("credentials", "issue", backups["name"], "--name", "forever")

    assert cli.ok("credentials", "list").stdout.count("crd_") == 3
    table = cli.ok("credentials", "list").stdout
    rows = {line.split()[1]: line for line in table.splitlines() if "crd_" in line}
    assert f"{logs['name']} (read-only), {backups['name']} (write-only)" in rows[soon["id"]]
    assert "expiring" in rows[soon["id"]]
    assert re.search(r"in [23] days", rows[soon["id"]])
    assert "2099-01-02" in rows[late["id"]]
    assert f"{logs['name']} (read-write)" in rows[late["id"]]
    assert "active" in rows[forever["id"]]
    assert "forever" in rows[forever["id"]]
    assert soon["secret_access_key"] not in table

    monkeypatch.setattr(credential_keys, "PAGE", 2)  # three keys: the list follows next_cursor
    listed = cli.json("credentials", "list")
    assert [c["id"] for c in listed["credentials"]] == [soon["id"], late["id"], forever["id"]]
    assert listed["next_cursor"] is None
    assert all("secret_access_key" not in c for c in listed["credentials"])
    assert [c["id"] for c in cli.json("credentials", "list", backups["name"])["credentials"]] == [
        soon["id"],
        forever["id"],
    ]

    shown = cli.ok("credentials", "show", soon["access_key_id"]).stdout
    assert soon["id"] in shown
    assert "expiring" in shown
    renamed = cli.json("credentials", "update", soon["id"], "--name", "renamed")
    assert renamed["name"] == "renamed"
    assert renamed["access_key_id"] == soon["access_key_id"]
    narrowed = cli.json("credentials", "update", soon["id"], "--bucket", f"{logs['name']}:read-only")
    assert [(g["bucket"], g["access"]) for g in narrowed["grants"]] == [(logs["name"], "read-only")]
    assert cli("credentials", "update", soon["id"]).exit_code == ExitCode.USAGE

    cli.ok("projects", "create", "second", "--org", "demo")
    assert "No credentials in demo/second" in cli.ok("credentials", "list", "--project", "second").stderr


# --- rotate --------------------------------------------------------------------------------------


def test_rotate_prints_a_working_new_key_while_the_old_one_keeps_working(cli: Cli) -> None:
    bucket = cli.ready_bucket("rot")
    name = bucket["name"]
    old_values = env_lines(cli.ok("credentials", "issue", name, "--name", "app").stdout)
    old_s3 = s3_for(old_values)
    wait_until_known(old_s3, name)
    old_s3.put_object(Bucket=name, Key="before", Body=b"1")

    rotated = cli.ok("credentials", "rotate", old_values["AWS_ACCESS_KEY_ID"], "--grace-seconds", "3600")

    new_values = env_lines(rotated.stdout)
    assert new_values["AWS_ACCESS_KEY_ID"] != old_values["AWS_ACCESS_KEY_ID"]
    assert new_values["AWS_SECRET_ACCESS_KEY"] != old_values["AWS_SECRET_ACCESS_KEY"]
    assert "shown this once" in rotated.stderr
    assert f"The old key {old_values['AWS_ACCESS_KEY_ID']}" in rotated.stderr
    assert re.search(r"keeps working until \S+ \S+ \(in 59 minutes\); then it is revoked", rotated.stderr)
    new_s3 = s3_for(new_values)
    wait_until_known(new_s3, name)
    new_s3.put_object(Bucket=name, Key="after", Body=b"2")
    old_s3.put_object(Bucket=name, Key="still", Body=b"3")  # within its grace period

    keys = {c["access_key_id"]: c for c in cli.json("credentials", "list")["credentials"]}
    old, new = keys[old_values["AWS_ACCESS_KEY_ID"]], keys[new_values["AWS_ACCESS_KEY_ID"]]
    assert (old["status"], old["rotated_to"]) == ("rotating", new["id"])
    assert (new["status"], new["rotated_from"], new["name"]) == ("active", old["id"], "app")
    assert "rotating (ends in 59 minutes)" in cli.ok("credentials", "list").stdout

    again = cli("credentials", "rotate", old["id"])
    assert again.exit_code == ExitCode.REFUSED
    assert "already being rotated" in again.stderr

    at_once = cli.ok("credentials", "rotate", new["id"], "--grace-seconds", "0", "--format", "env")
    assert at_once.stdout.startswith("# Loopback key app (crd_")
    assert f"The old key {new_values['AWS_ACCESS_KEY_ID']} ({new['id']}) is revoked." in at_once.stderr
    third_s3 = s3_for(env_lines(at_once.stdout))
    wait_until_known(third_s3, name)
    third_s3.put_object(Bucket=name, Key="third", Body=b"4")
    wait_until_refused(new_s3, name)


# --- revoke --------------------------------------------------------------------------------------


def test_revoke_by_id_stops_the_key_for_every_bucket_and_asks_first(cli: Cli) -> None:
    first, second = cli.ready_bucket("rev"), cli.ready_bucket("rev")
    issued = cli.json("credentials", "issue", first["name"], second["name"])
    values = {
        "AWS_ACCESS_KEY_ID": issued["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": issued["secret_access_key"],
        "AWS_ENDPOINT_URL": issued["endpoint"],
        "AWS_REGION": issued["region"],
    }
    s3 = s3_for(values)
    wait_until_known(s3, first["name"])
    s3.list_objects_v2(Bucket=second["name"])

    declined = cli("credentials", "revoke", issued["id"], stdin="n\n")
    assert declined.exit_code == ExitCode.REFUSED
    assert f"Revoke credential {issued['id']} of demo/default?" in declined.output
    assert cli.json("credentials", "show", issued["id"])["status"] == "active"
    unanswered = cli("credentials", "revoke", issued["id"])  # a script: no terminal, no input
    assert unanswered.exit_code == ExitCode.REFUSED
    assert "error: no answer to the question: standard input is not a terminal" in unanswered.stderr
    assert "pass --yes (-y) to go ahead without asking" in unanswered.stderr
    assert cli.json("credentials", "show", issued["id"])["status"] == "active"

    revoked = cli.ok("credentials", "revoke", issued["id"], "--yes")
    assert f"Revoked credential {issued['id']} ({issued['access_key_id']})." in revoked.stderr
    assert "revoked" in revoked.stdout
    assert cli.json("credentials", "show", issued["access_key_id"])["status"] == "revoked"
    for bucket in (first, second):
        wait_until_refused(s3, bucket["name"])
    assert cli.ok("credentials", "revoke", issued["id"], "--yes").exit_code == ExitCode.OK  # twice is fine

    unknown = cli("credentials", "revoke", "AKNOSUCHKEY", "--yes")
    assert unknown.exit_code == ExitCode.REFUSED
    assert "no credential 'AKNOSUCHKEY' in demo/default" in unknown.stderr
    assert cli("credentials", "revoke", "a", "b", "c").exit_code == ExitCode.USAGE


def test_revoke_bucket_credential_still_works_and_checks_the_bucket(cli: Cli) -> None:
    reached, other = cli.ready_bucket("old"), cli.ready_bucket("old")
    issued = cli.json("credentials", "issue", reached["name"])

    elsewhere = cli("credentials", "revoke", other["name"], issued["access_key_id"], "--yes")
    assert elsewhere.exit_code == ExitCode.REFUSED
    assert cli.json("credentials", "show", issued["id"])["status"] == "active"

    cli.ok("credentials", "revoke", reached["name"], issued["access_key_id"], "--yes")
    assert cli.json("credentials", "show", issued["id"])["status"] == "revoked"
