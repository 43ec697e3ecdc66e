"""The CLI reaches everything the API offers, and every API command answers ``--output json``.

The operations come from the live app's ``/openapi.json``; the commands from the ``loopback`` command
tree, each with the operations it declared where it is registered (``loopback.client.operations``).
Every operation outside ``EXCLUDED`` must be declared by a command, every declared operation must
exist, and every command that calls the API must take ``--output json``. Then every such command
runs over real HTTP with ``--output json``: what it prints must parse as JSON, and the requests the
API received while it ran must include each operation it declared, so a declaration cannot claim
what the command no longer does.
"""

from __future__ import annotations

import functools
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import typer.main
from fastapi import Request, Response

from loopback.app import create_app
from loopback.cli import app
from loopback.client.errors import ExitCode
from loopback.client.operations import operations_of
from loopback.client.output import OutputFormat
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from tests.buckets.test_cli import Cli
from tests.conftest import unique_bucket_name
from tests.live_server import LiveServer

EXCLUDED = {  # path prefix -> why no command reaches it
    "/v2/": "deprecated: v3 supersedes it, and the CLI speaks v3 only",
    "/healthz": "for load balancers and probes, not tenants",
    "/readyz": "for load balancers and probes, not tenants",
}
METHODS = {"get", "put", "post", "patch", "delete"}


@dataclass(frozen=True)
class Command:
    """A command of the tree: its words (``buckets create``), what it declared, whether it takes -o json."""

    words: str
    operations: frozenset[str]
    json: bool


@functools.cache
def commands() -> tuple[Command, ...]:
    """Every command a user can run, as Typer builds the tree ``loopback`` runs."""
    found = []

    def walk(command: Any, words: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):
            for name, child in command.commands.items():
                walk(child, (*words, name))
            return
        output = [p for p in command.params if "--output" in (getattr(p, "opts", None) or [])]
        takes_json = any(p.type_descriptor.annotation is OutputFormat for p in output)
        found.append(Command(" ".join(words), frozenset(operations_of(command.callback)), takes_json))

    walk(typer.main.get_command(app), ())
    return tuple(found)


def operations(document: dict[str, Any]) -> set[str]:
    """Every operation of the document, as ``METHOD /path``."""
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def tenant_facing(operation: str) -> bool:
    return not operation.split(" ", 1)[1].startswith(tuple(EXCLUDED))


@pytest.fixture
def document(runtime: Runtime) -> dict[str, Any]:
    with LiveServer(create_app(runtime)) as server:
        answer = httpx.get(f"{server.url}/openapi.json", timeout=60)
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def test_every_operation_of_the_api_is_reached_by_a_command(document: dict[str, Any]) -> None:
    offered = operations(document)
    declared = {o for c in commands() for o in c.operations}
    problems = [f"no command reaches {o}" for o in sorted(offered - declared) if tenant_facing(o)] + [
        f"a command declares {o}, which the API does not offer" for o in sorted(declared - offered)
    ]
    assert not problems, "\n".join(problems)


def test_every_command_that_calls_the_api_takes_output_json() -> None:
    problems = [
        f"`loopback {c.words}` takes --output json but declares no operation (loopback.client.operations)"
        for c in commands()
        if c.json and not c.operations
    ] + [
        f"`loopback {c.words}` calls the API but takes no --output json"
        for c in commands()
        if c.operations and not c.json
    ]
    assert not problems, "\n".join(problems)


# --- every command, run ------------------------------------------------------------------------


@dataclass
class Recorded:
    """The requests the API received, and which operation of the document each one was."""

    document: dict[str, Any]
    requests: list[tuple[str, str]] = field(default_factory=list)

    def operation(self, method: str, path: str) -> str | None:
        # A literal segment wins over a parameter: POST .../buckets/validate is no bucket's id.
        matching = [
            template
            for template, item in self.document["paths"].items()
            if method.lower() in item and re.fullmatch(pattern(template), path)
        ]
        return f"{method} {min(matching, key=lambda t: t.count('{'))}" if matching else None


def pattern(template: str) -> str:
    """``/v3/organizations/{org}`` as a regular expression that a request's path matches."""
    return "/".join("[^/]+" if s.startswith("{") else re.escape(s) for s in template.split("/"))


@dataclass
class Run:
    """``loopback ... --output json`` as the scenario runs it, keeping what each command reached."""

    cli: Cli
    recorded: Recorded
    reached: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def __call__(self, *args: str, allowed: tuple[int, ...] = (ExitCode.OK,), **kwargs: Any) -> Any:
        before = len(self.recorded.requests)
        result = self.cli(*args, "--output", "json", **kwargs)
        assert result.exit_code in allowed, (args, result.output)
        words = self.words(args)
        for method, path in self.recorded.requests[before:]:
            self.reached[words].add(self.recorded.operation(method, path) or f"{method} {path}")
        try:
            return json.loads(result.stdout)
        except ValueError:
            pytest.fail(
                f"`loopback {' '.join(args)} --output json` printed what is not JSON:\n{result.stdout}"
            )

    @staticmethod
    def words(args: tuple[str, ...]) -> str:
        known = {c.words for c in commands()}
        return next(" ".join(args[:n]) for n in (2, 1) if " ".join(args[:n]) in known)


@pytest.fixture
def run(runtime: Runtime, worker: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.chdir(tmp_path)  # no ./.loopback/bootstrap-token of a developer's checkout applies
    api = create_app(runtime)
    recorded = Recorded(api.openapi())

    @api.middleware("http")
    async def record(request: Request, call_next: Callable[[Request], Any]) -> Response:
        recorded.requests.append((request.method, request.url.path))
        answer: Response = await call_next(request)
        return answer

    with LiveServer(api) as server:
        yield Run(Cli(server.url, tmp_path), recorded)


def tenancy(run: Run) -> None:
    run("whoami")
    run("orgs", "create", "scratch", "--name", "Scratch")
    run("orgs", "list")
    run("orgs", "show", "scratch")
    run("orgs", "rename", "scratch", "Scratch two")
    org = ("--org", "scratch")
    run("projects", "create", "tmp", *org)
    run("projects", "list", *org)
    run("projects", "show", "tmp", *org)
    run("projects", "rename", "tmp", "Temporary", *org)
    run("quotas", "set", "--buckets", "5", *org)  # the operator's, for the organization
    run("quotas", "set", "--buckets", "2", "--project", "tmp", *org)
    run("quotas", "show", *org)
    assert run("quotas", "show", "--project", "tmp", *org)["quotas"]["buckets"]["limit"] == 2
    run("members", "add", "ada@example.com", "--role", "member", *org)
    run("members", "list", *org)
    run("members", "set-role", "ada@example.com", "admin", *org)
    run("members", "remove", "ada@example.com", *org, "--yes")
    personal = run("tokens", "create", "laptop")
    run("tokens", "list")
    run("tokens", "revoke", personal["id"])
    project = run("tokens", "create", "ci", *org, "--project", "tmp", "--role-cap", "viewer")
    run("whoami", token=project["token"])  # GET /v3/token alone: a project token has no user to show
    run("tokens", "list", *org)
    run("tokens", "revoke", project["id"], *org)
    run("audit", *org, "--all")
    run("projects", "delete", "tmp", *org, "--yes")
    run("orgs", "delete", "scratch", "--yes")


def webhooks(run: Run) -> None:
    org = ("--org", "demo")
    hook = run("webhooks", "create", "https://hooks.invalid/hook", "--event", "bucket.ready", *org)["id"]
    run("webhooks", "list", *org)
    run("webhooks", "show", hook, *org)
    run("webhooks", "update", hook, "--disable", *org)
    run("webhooks", "rotate-secret", hook, *org)
    run("webhooks", "test", hook, *org)
    run("webhooks", "deliveries", hook, *org)
    run("webhooks", "delete", hook, *org)


def providers(run: Run, seaweedfs: EmbeddedSeaweedFS) -> None:
    identity = seaweedfs.identity
    region = f"code=sw-1,name=SeaweedFS,endpoint={seaweedfs.endpoint}"
    run(
        "providers", "add", "second", "--family", "s3", "--access-key-id", identity.access_key_id,
        "--secret-access-key-env", "SECOND_SECRET", "--region", region,
        SECOND_SECRET=identity.secret_access_key,
    )  # fmt: skip
    run("providers", "list")
    run("providers", "show", "second")
    run("providers", "update", "second", "--display-name", "Second")
    run("providers", "disable", "second")
    run("providers", "enable", "second")
    assert run("providers", "test", "second")["ok"] is True


def buckets_and_keys(run: Run, operator_s3: Any) -> None:
    name, existing = unique_bucket_name("cover"), unique_bucket_name("adopt")
    place = ("--provider", "local", "--region", "local-1")
    run("regions")
    assert run("buckets", "validate", name, *place)["valid"] is True
    assert run("buckets", "create", name, *place, "--wait")["status"] == "ready"
    run("buckets", "list")
    run("buckets", "show", name)
    run("buckets", "events", name)
    run("usage")
    run("usage", name, "--refresh")
    run("billing", "usage", "--group-by", "bucket")
    operator_s3.create_bucket(Bucket=existing)
    assert run("buckets", "adopt", existing, *place)["adopted"] is True

    one = run("credentials", "issue", name)  # through the bucket's own route
    both = run("credentials", "issue", name, f"{existing}:read-only", "--name", "both")
    run("credentials", "list")
    run("credentials", "list", name)
    run("credentials", "show", both["id"])
    run("credentials", "update", both["id"], "--name", "renamed")
    rotated = run("credentials", "rotate", both["id"], "--grace-seconds", "0")
    run("credentials", "revoke", name, one["id"], "--yes")
    run("credentials", "revoke", rotated["id"], "--yes")

    moved = run("buckets", "replace", existing, "--name", unique_bucket_name("moved"), "--wait")
    run("buckets", "delete", moved["id"], "--yes", "--wait")
    run("buckets", "delete", name, "--yes", "--wait")


def cosi_driver(run: Run, operator_s3: Any) -> None:
    """``loopback cosi-driver`` serves until SIGTERM: a thread plays COSI's sidecar over its socket
    (create, adopt, grant, revoke, delete), then sends the signal that stops it."""
    import os
    import shutil
    import signal
    import tempfile
    import threading
    import time

    from loopback.cosi.proto import cosi_pb2 as pb
    from loopback.cosi.proto import cosi_pb2_grpc as rpc
    from tests.cosi.conftest import CLASS, KEY, S3

    directory = tempfile.mkdtemp(prefix="cosi-", dir="/tmp")  # a socket's path is short
    endpoint, existing = f"unix://{directory}/cosi.sock", unique_bucket_name("static")
    operator_s3.create_bucket(Bucket=existing)
    failures: list[BaseException] = []

    def sidecar() -> None:
        try:
            while not os.path.exists(f"{directory}/cosi.sock"):
                time.sleep(0.05)
            with grpc.insecure_channel(endpoint) as channel:
                stub = rpc.ProvisionerStub(channel)
                made = stub.DriverCreateBucket(
                    pb.DriverCreateBucketRequest(name="bc-coverage", protocols=[S3], parameters=CLASS),
                    timeout=30,
                )
                stub.DriverGetExistingBucket(
                    pb.DriverGetExistingBucketRequest(existing_bucket_id=existing, parameters=CLASS),
                    timeout=30,
                )
                asked = pb.DriverGrantBucketAccessRequest.AccessedBucket(
                    bucket_id=made.bucket_id, access_mode=pb.AccessMode(mode=pb.AccessMode.READ_WRITE)
                )
                granted = stub.DriverGrantBucketAccess(
                    pb.DriverGrantBucketAccessRequest(
                        account_name="ba-coverage", protocol=S3, authentication_type=KEY, buckets=[asked]
                    ),
                    timeout=30,
                )
                stub.DriverRevokeBucketAccess(
                    pb.DriverRevokeBucketAccessRequest(account_id=granted.account_id), timeout=30
                )
                stub.DriverDeleteBucket(pb.DriverDeleteBucketRequest(bucket_id=made.bucket_id), timeout=30)
        except BaseException as error:  # reported by the test, in its own thread
            failures.append(error)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # the driver's handler stops it

    thread = threading.Thread(target=sidecar)
    thread.start()
    try:
        started = run("cosi-driver", "--endpoint", endpoint)
    finally:
        thread.join(timeout=60)
        shutil.rmtree(directory, ignore_errors=True)
    assert not failures, failures
    assert started["endpoint"] == endpoint


def test_every_command_answers_json_and_reaches_what_it_declares(
    run: Run, seaweedfs: EmbeddedSeaweedFS, operator_s3: Any
) -> None:
    tenancy(run)
    webhooks(run)
    providers(run, seaweedfs)
    buckets_and_keys(run, operator_s3)
    cosi_driver(run, operator_s3)

    offered = operations(run.recorded.document)
    declaring = [c for c in commands() if c.operations]
    problems = [
        f"the scenario does not run `loopback {c.words}`: add a step"
        for c in declaring
        if c.words not in run.reached
    ] + [
        f"`loopback {c.words}` declares {o} but did not call it (it called {sorted(run.reached[c.words])})"
        for c in declaring
        if c.words in run.reached
        for o in sorted(c.operations & offered - run.reached[c.words])
    ]
    assert not problems, "\n".join(problems)


def test_a_tool_file_and_json_are_one_output_or_the_other(tmp_path: Path) -> None:
    """``--format`` prints a tool's file and ``--output json`` the API's JSON: asked both, it says so."""
    both = Cli(None, tmp_path)("credentials", "issue", "any-bucket", "--format", "env", "--output", "json")
    assert both.exit_code == ExitCode.USAGE
    assert "pick one" in both.output
    assert both.stdout == ""
