"""``loopback buckets validate|adopt`` against the API over real HTTP, on the session's SeaweedFS.

``validate`` is create's dry run; ``adopt`` takes in a bucket made at the provider behind Loopback's
back, as the storage operator makes one with boto3 here.
"""

from __future__ import annotations

from typing import Any

from loopback.client.errors import ExitCode
from tests.buckets.test_cli import Cli
from tests.conftest import s3_client_for, unique_bucket_name

PLACE = ("--provider", "local", "--region", "local-1")


def test_validate_answers_as_create_would_and_records_nothing(cli: Cli) -> None:
    name = unique_bucket_name("dry")
    good = cli.ok("buckets", "validate", name, *PLACE)
    assert name in good.stdout
    assert "http://127.0.0.1:" in good.stdout  # the endpoint it would get
    assert (
        f"`loopback buckets create {name} --provider local --region local-1` would be accepted" in good.stderr
    )
    answer = cli.json("buckets", "validate", name, *PLACE)
    assert (answer["valid"], answer["name"], answer["region"]) == (True, name, "local-1")

    bad = cli("buckets", "validate", "Bad_Name", "--provider", "nowhere", "--region", "x")
    assert bad.exit_code == ExitCode.REFUSED
    fields = [line.split(":")[0] for line in bad.stderr.splitlines()]
    assert "name" in fields
    assert "provider" in fields
    assert "`loopback regions` lists the providers and regions to choose from" in bad.stderr
    assert cli.json("buckets", "list", "--all")["buckets"] == []

    taken = cli.ready_bucket()
    again = cli("buckets", "validate", taken["name"], *PLACE)
    assert again.exit_code == ExitCode.REFUSED
    assert "(409)" in again.stderr


def test_adopt_takes_in_a_bucket_of_the_provider_with_its_objects(cli: Cli, operator_s3: Any) -> None:
    name = unique_bucket_name("adopt")
    missing = cli("buckets", "adopt", name, *PLACE)
    assert missing.exit_code == ExitCode.REFUSED
    assert f"has no bucket named '{name}'" in missing.stderr

    operator_s3.create_bucket(Bucket=name)
    operator_s3.put_object(Bucket=name, Key="old", Body=b"made before Loopback knew it")
    adopted = cli.ok("buckets", "adopt", name, *PLACE)
    assert "ready" in adopted.stdout
    assert f"Bucket {name!r} is adopted into demo/default" in adopted.stderr
    shown = cli.json("buckets", "show", name)
    assert (shown["status"], shown["adopted"]) == ("ready", True)
    assert cli.json("usage", name, "--refresh")["usage"]["object_count"] == 1

    key = cli.json("credentials", "issue", name, "--access", "read-only")
    body = s3_client_for(key).get_object(Bucket=name, Key="old")["Body"].read()
    assert body == b"made before Loopback knew it"

    twice = cli("buckets", "adopt", name, *PLACE)
    assert twice.exit_code == ExitCode.REFUSED
    assert "already exists" in twice.stderr
