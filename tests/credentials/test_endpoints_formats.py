"""Each handover format, proven by the real tool reading it against the embedded SeaweedFS.

A tool test is skipped when its tool is not on PATH, unless ``LOOPBACK_TEST_REQUIRE_TOOLS=1``
(CI sets it), when a missing tool is a failure. Tools run with a clean environment: HOME is a
fresh directory and no AWS_* variable is inherited, so only the rendered file can configure them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from loopback.credentials.formats import FORMATS, MEDIA_TYPES, Handover, profile_name, render, secret_name
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from tests.conftest import unique_bucket_name

REGION = "local-1"
INSTALL = {
    "aws": "pip install awscli (Debian bookworm's awscli 2.9 is too old)",
    "rclone": "apt-get install --no-install-recommends rclone",
    "s3cmd": "apt-get install --no-install-recommends s3cmd",
    "kubectl": "apt-get install --no-install-recommends kubernetes-client",
}
# aws-cli's first releases that read endpoint_url from the config file and the environment.
AWS_CLI_ENDPOINTS = {1: (1, 29), 2: (2, 13)}
# k8s.io/apimachinery's IsDNS1123Subdomain, which the API server applies to metadata.name.
DNS_1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def sample(buckets: tuple[str, ...] = ("photos",), name: str = "My laptop key") -> Handover:
    return Handover(
        credential_id="cred_01TEST",
        name=name,
        access_key_id="LBAKTEST",
        secret_access_key="s3cret/with+chars=",
        endpoint="http://127.0.0.1:8333",
        region=REGION,
        buckets=buckets,
    )


# --- the renderer alone --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_the_key(fmt: str) -> None:
    text = render(fmt, sample())
    if fmt == "aws-config":  # the keys are in aws-credentials; this half says where and how
        assert "endpoint_url = http://127.0.0.1:8333" in text
    else:
        assert "LBAKTEST" in text
        assert "s3cret/with+chars=" in text
    assert text.endswith("\n")
    assert MEDIA_TYPES[fmt] in ("text/plain; charset=utf-8", "application/yaml")


def test_the_secret_is_never_in_the_repr() -> None:
    handover = sample()
    assert "s3cret" not in repr(handover)
    assert "s3cret" not in str(handover)
    assert "LBAKTEST" in repr(handover)


def test_an_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown format 'toml'") as raised:
        render("toml", sample())
    for fmt in FORMATS:
        assert fmt in str(raised.value)


def test_a_handover_without_buckets_or_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one bucket"):
        sample(buckets=())
    with pytest.raises(ValueError, match="single lines"):
        sample(name="two\nlines")


def test_three_buckets_give_three_valid_distinct_secrets() -> None:
    buckets = ("alpha", "beta.logs", "gamma-3")
    documents = list(yaml.safe_load_all(render("kubernetes", sample(buckets))))
    assert len(documents) == 3
    names = [document["metadata"]["name"] for document in documents]
    assert len(set(names)) == 3
    for document, bucket in zip(documents, buckets, strict=True):
        assert (document["apiVersion"], document["kind"], document["type"]) == ("v1", "Secret", "Opaque")
        assert DNS_1123_SUBDOMAIN.fullmatch(document["metadata"]["name"])
        assert document["stringData"]["COSI_S3_BUCKET_ID"] == bucket
        assert set(document["stringData"]) == {
            "COSI_PROTOCOL",
            "COSI_S3_BUCKET_ID",
            "COSI_S3_ENDPOINT",
            "COSI_S3_REGION",
            "COSI_S3_ADDRESSING_STYLE",
            "COSI_S3_ACCESS_KEY_ID",
            "COSI_S3_ACCESS_SECRET_KEY",
        }


def test_a_long_key_name_still_gives_a_dns_name_with_the_bucket() -> None:
    handover = sample(name="Ä very long key name " * 30)
    name = secret_name(handover, "b" * 63)
    assert len(name) <= 253
    assert DNS_1123_SUBDOMAIN.fullmatch(name)
    assert name.endswith("-" + "b" * 63)


def test_both_aws_files_name_the_same_profile() -> None:
    handover = sample()
    assert profile_name(handover) == "loopback-my-laptop-key"
    assert render("aws-credentials", handover).startswith("[loopback-my-laptop-key]\n")
    assert render("aws-config", handover).startswith("[profile loopback-my-laptop-key]\n")
    assert profile_name(sample(name="  !! ")) == "loopback-cred-01test"


def test_the_env_file_survives_shell_quoting(tmp_path: Path) -> None:
    nasty = "a'b\"c$d`e \\f;g"
    handover = Handover("cred_1", "k", "AK", nasty, "http://127.0.0.1:1", REGION, ("b",))
    (tmp_path / ".env").write_text(render("env", handover))
    shown = run(["bash", "-c", 'set -a; . ./.env; set +a; printf %s "$AWS_SECRET_ACCESS_KEY"'], tmp_path)
    assert shown.stdout == nasty


# --- the real tools ------------------------------------------------------------------------------


def unavailable(reason: str) -> None:
    """Skip, or fail when LOOPBACK_TEST_REQUIRE_TOOLS=1 says every tool must be here."""
    if os.environ.get("LOOPBACK_TEST_REQUIRE_TOOLS") == "1":
        pytest.fail(reason + " (LOOPBACK_TEST_REQUIRE_TOOLS=1 requires it)")
    pytest.skip(reason)


def require(tool: str) -> str:
    """The tool's path, when it is on PATH."""
    found = shutil.which(tool)
    if found is None:
        unavailable(f"{tool} is not on PATH; install it with: {INSTALL[tool]}")
    assert found is not None
    return found


def require_aws(home: Path) -> str:
    """aws-cli, new enough to read endpoint_url from ~/.aws/config and AWS_ENDPOINT_URL."""
    aws = require("aws")
    shown = run([aws, "--version"], home)
    found = re.search(r"aws-cli/(\d+)\.(\d+)", shown.stdout + shown.stderr)
    assert found, shown
    version = (int(found[1]), int(found[2]))
    if version < AWS_CLI_ENDPOINTS.get(version[0], (0, 0)):
        unavailable(
            f"aws-cli {found[0]} predates configured endpoints (1.29 / 2.13); upgrade: {INSTALL['aws']}"
        )
    return aws


def run(command: list[str], home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a tool with HOME at ``home`` and nothing of this process's AWS_* environment."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}
    result = subprocess.run(command, cwd=home, env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def issued(seaweedfs: EmbeddedSeaweedFS) -> Iterator[Handover]:
    """A bucket and a key that reaches only it, made through SeaweedFS's IAM API as the provider does."""
    operator: dict[str, Any] = {
        "endpoint_url": seaweedfs.endpoint,
        "region_name": REGION,
        "aws_access_key_id": seaweedfs.identity.access_key_id,
        "aws_secret_access_key": seaweedfs.identity.secret_access_key,
    }
    s3: Any = boto3.client("s3", **operator)
    iam: Any = boto3.client("iam", **operator)
    bucket = unique_bucket_name("fmt")
    user = f"fmt-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)
    iam.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="fmt", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    handover = Handover(
        credential_id=f"cred_{user}",
        name="Format test key",
        access_key_id=key["AccessKeyId"],
        secret_access_key=key["SecretAccessKey"],
        endpoint=seaweedfs.endpoint,
        region=REGION,
        buckets=(bucket,),
    )
    tenant: Any = boto3.client(
        "s3",
        endpoint_url=seaweedfs.endpoint,
        region_name=REGION,
        aws_access_key_id=handover.access_key_id,
        aws_secret_access_key=handover.secret_access_key,
    )
    deadline = time.monotonic() + 10
    while True:  # SeaweedFS's gateway picks a new identity up a moment after IAM answers
        try:
            tenant.list_objects_v2(Bucket=bucket)
            break
        except ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    yield handover
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)
    iam.delete_access_key(UserName=user, AccessKeyId=handover.access_key_id)
    iam.delete_user_policy(UserName=user, PolicyName="fmt")
    iam.delete_user(UserName=user)


def payload(home: Path) -> tuple[Path, str, bytes]:
    """A file to upload, its object key and its bytes; unique so a test sees only its own object."""
    key = f"upload-{secrets.token_hex(4)}.txt"
    body = f"handover {key}\n".encode()
    path = home / key
    path.write_bytes(body)
    return path, key, body


def arrived(operator_s3: Any, bucket: str, key: str) -> bytes:
    return bytes(operator_s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def write_aws_profile(home: Path, handover: Handover) -> str:
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text(render("aws-credentials", handover))
    (home / ".aws" / "config").write_text(render("aws-config", handover))
    return profile_name(handover)


def test_aws_cli_reads_the_profile_files(issued: Handover, operator_s3: Any, tmp_path: Path) -> None:
    aws = require_aws(tmp_path)
    profile = write_aws_profile(tmp_path, issued)
    bucket = issued.buckets[0]
    path, key, body = payload(tmp_path)
    run([aws, "--profile", profile, "s3", "cp", str(path), f"s3://{bucket}/{key}"], tmp_path)
    listing = run([aws, "--profile", profile, "s3", "ls", f"s3://{bucket}/"], tmp_path)
    assert key in listing.stdout
    assert arrived(operator_s3, bucket, key) == body


def test_boto3_reads_the_profile_files(issued: Handover, operator_s3: Any, tmp_path: Path) -> None:
    profile = write_aws_profile(tmp_path, issued)
    bucket = issued.buckets[0]
    _, key, body = payload(tmp_path)
    script = (
        "import boto3, sys\n"
        f"s3 = boto3.Session(profile_name={profile!r}).client('s3')\n"
        f"s3.put_object(Bucket={bucket!r}, Key={key!r}, Body={body!r})\n"
        f"print([o['Key'] for o in s3.list_objects_v2(Bucket={bucket!r})['Contents']])\n"
    )
    listing = run([sys.executable, "-c", script], tmp_path)
    assert key in listing.stdout
    assert arrived(operator_s3, bucket, key) == body


def test_boto3_reads_the_env_file(issued: Handover, operator_s3: Any, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(render("env", issued))
    bucket = issued.buckets[0]
    _, key, body = payload(tmp_path)
    script = (
        "import boto3\n"
        "s3 = boto3.client('s3')\n"
        f"s3.put_object(Bucket={bucket!r}, Key={key!r}, Body={body!r})\n"
        f"print([o['Key'] for o in s3.list_objects_v2(Bucket={bucket!r})['Contents']])\n"
    )
    shell = f"set -a; . ./.env; set +a; exec {shlex.quote(sys.executable)} -c {shlex.quote(script)}"
    listing = run(["bash", "-c", shell], tmp_path)
    assert key in listing.stdout
    assert arrived(operator_s3, bucket, key) == body


def test_aws_cli_reads_the_env_file(issued: Handover, operator_s3: Any, tmp_path: Path) -> None:
    aws = shlex.quote(require_aws(tmp_path))
    (tmp_path / ".env").write_text(render("env", issued))
    bucket = issued.buckets[0]
    path, key, body = payload(tmp_path)
    shell = (
        f"set -a; . ./.env; set +a; {aws} s3 cp {shlex.quote(str(path))} s3://{bucket}/{key}"
        f" && {aws} s3 ls s3://{bucket}/"
    )
    listing = run(["bash", "-c", shell], tmp_path)
    assert key in listing.stdout
    assert arrived(operator_s3, bucket, key) == body


def test_rclone_reads_its_remote(issued: Handover, operator_s3: Any, tmp_path: Path) -> None:
    rclone = require("rclone")
    config = tmp_path / "rclone.conf"
    config.write_text(render("rclone", issued))
    remote = f"{profile_name(issued)}:{issued.buckets[0]}"
    path, key, body = payload(tmp_path)
    run([rclone, "--config", str(config), "copy", str(path), remote], tmp_path)
    listing = run([rclone, "--config", str(config), "lsf", remote], tmp_path)
    assert key in listing.stdout.splitlines()
    assert arrived(operator_s3, issued.buckets[0], key) == body


def test_s3cmd_reads_its_config(issued: Handover, operator_s3: Any, tmp_path: Path) -> None:
    s3cmd = require("s3cmd")
    config = tmp_path / ".s3cfg"
    config.write_text(render("s3cmd", issued))
    bucket = issued.buckets[0]
    path, key, body = payload(tmp_path)
    run([s3cmd, "-c", str(config), "put", str(path), f"s3://{bucket}/{key}"], tmp_path)
    listing = run([s3cmd, "-c", str(config), "ls", f"s3://{bucket}"], tmp_path)
    assert f"s3://{bucket}/{key}" in listing.stdout
    assert arrived(operator_s3, bucket, key) == body


def test_kubectl_reads_the_secrets(tmp_path: Path) -> None:
    """kubectl decodes the manifests as its built-in v1 Secret, offline.

    ``kubectl create --dry-run=client`` still asks a server for API discovery (and ``--validate``
    for its OpenAPI), so no server means it cannot run; ``patch --local`` with an empty strategic
    patch maps each document onto kubectl's compiled-in types instead and refuses an unknown
    apiVersion or kind. What only the API server checks (the name) is asserted here.
    """
    kubectl = require("kubectl")
    handover = sample(("alpha", "beta.logs", "gamma-3"))
    manifest = tmp_path / "secrets.yaml"
    manifest.write_text(render("kubernetes", handover))
    printed = run([kubectl, "patch", "--local", "-f", str(manifest), "-p", "{}", "-o", "json"], tmp_path)
    decoder, text, objects = json.JSONDecoder(), printed.stdout.strip(), []
    while text:  # one JSON object per document, back to back
        found, end = decoder.raw_decode(text)
        objects.append(found)
        text = text[end:].lstrip()
    assert len(objects) == len(handover.buckets)
    for found, bucket in zip(objects, handover.buckets, strict=True):
        assert (found["apiVersion"], found["kind"], found["type"]) == ("v1", "Secret", "Opaque")
        assert DNS_1123_SUBDOMAIN.fullmatch(found["metadata"]["name"])
        assert len(found["metadata"]["name"]) <= 253
        assert found["stringData"] == {
            "COSI_PROTOCOL": "S3",
            "COSI_S3_BUCKET_ID": bucket,
            "COSI_S3_ENDPOINT": handover.endpoint,
            "COSI_S3_REGION": handover.region,
            "COSI_S3_ADDRESSING_STYLE": "path",
            "COSI_S3_ACCESS_KEY_ID": handover.access_key_id,
            "COSI_S3_ACCESS_SECRET_KEY": handover.secret_access_key,
        }
