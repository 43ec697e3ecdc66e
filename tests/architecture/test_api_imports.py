"""An API process loads what serving needs, not the worker's, the CLI's or the providers' libraries.

A fresh interpreter starts as an API replica does (the schema checked, the runtime and the app
built) and answers one authenticated GET of a bucket through them; then none of ``HEAVY`` may be
loaded. boto3 comes with the first provider built, yaml with a Kubernetes handover or a providers
file, Alembic with a database behind the newest schema, redis and psycopg with a queue or database
that is there, the CLI's libraries with a command (issue 14: the replica's memory).

``loopback serve`` itself goes through the ``loopback`` command: Typer is loaded, but none of the
API client's command modules (``loopback.cli.COMMAND_MODULES``) nor Rich behind them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import typer.main
from fastapi.testclient import TestClient

from loopback.cli import COMMAND_MODULES, app
from loopback.kit.settings import Settings
from loopback.migrations import alembic_config
from loopback.serve import limit_malloc_arenas, newest_revisions
from tests.conftest import BUCKETS, OPERATOR_HEADERS, unique_bucket_name

HEAVY = frozenset(
    {"boto3", "botocore", "s3transfer", "yaml", "typer", "rich", "httpx", "alembic", "mako", "jinja2"}
)

REPLICA = """
import json, sys
import anyio
from loopback.app import create_app
from loopback.kit.settings import Settings
from loopback.runtime import Runtime
from loopback.serve import ensure_newest_schema

given = json.loads(sys.argv[1])
settings = Settings(**given["settings"])
ensure_newest_schema(settings.resolved_database_url)  # as serve starts: migrated already
runtime = Runtime.from_settings(settings)
app = create_app(runtime)
answer = {}

async def get() -> None:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": given["path"], "raw_path": given["path"].encode(), "query_string": b"",
        "root_path": "", "headers": [(b"authorization", given["authorization"].encode())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] = answer.get("body", b"") + message.get("body", b"")

    await app(scope, receive, send)

anyio.run(get)
runtime.close()
print(json.dumps({
    "status": answer["status"],
    "name": json.loads(answer["body"])["name"],
    "loaded": sorted({name.split(".")[0] for name in sys.modules}),
}))
"""


def heavy_for(settings: Settings) -> set[str]:
    """``HEAVY``, and the drivers of a queue and a database this installation does not use."""
    heavy = set(HEAVY)
    if not (settings.queue_url or "").startswith("redis"):
        heavy.add("redis")
    if not settings.resolved_database_url.startswith("postgresql"):
        heavy.add("psycopg")
    return heavy


def test_an_api_replica_serving_a_bucket_loads_none_of_the_heavy_libraries(
    client: TestClient, settings: Settings
) -> None:
    created = client.post(
        BUCKETS, json={"name": unique_bucket_name(), "provider": "local", "region": "local-1"}
    )
    assert created.status_code == 202, created.text
    given = {
        "settings": settings.model_dump(
            mode="json", include={"data_dir", "database_url", "queue_url", "queue_name", "embedded_storage"}
        ),
        "path": created.headers["location"],
        "authorization": OPERATOR_HEADERS["Authorization"],
    }
    run = subprocess.run(
        [sys.executable, "-c", REPLICA, json.dumps(given)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    replica = json.loads(run.stdout.strip().splitlines()[-1])
    assert (replica["status"], replica["name"]) == (200, created.json()["name"])
    assert sorted(heavy_for(settings) & set(replica["loaded"])) == []


def test_the_newest_revisions_read_without_alembic_are_alembics_heads() -> None:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert newest_revisions() == frozenset(heads)


SERVE_COMMAND = """
import json, sys
import loopback.serve

def started(settings) -> None:  # where `loopback serve` would bind and start serving
    print(json.dumps(sorted(sys.modules)))

loopback.serve.serve = started
from loopback.cli import app
app(["serve", "--port", "0"], prog_name="loopback")
"""


def test_loopback_serve_loads_none_of_the_api_clients_commands() -> None:
    run = subprocess.run([sys.executable, "-c", SERVE_COMMAND], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    loaded = set(json.loads(run.stdout.strip().splitlines()[-1]))
    assert "typer" in loaded  # the probe went through the command, as `loopback serve` does
    assert sorted(set(COMMAND_MODULES) & loaded) == []
    assert sorted({"rich", "httpx", "yaml"} & {name.split(".")[0] for name in loaded}) == []


def test_every_command_module_adds_the_commands_the_cli_names_for_it() -> None:
    """A module loaded on first use must add what ``COMMAND_MODULES`` says, or its commands could
    not be found by name; building every command checks each module (a wrong one raises)."""
    commands = dict(typer.main.get_command(app).commands.items())  # type: ignore[attr-defined]
    named = {name for names in COMMAND_MODULES.values() for name in names}
    assert named <= set(commands)
    assert all(commands[name] is not None for name in named)


def test_serve_shares_two_malloc_arenas_unless_the_operator_set_their_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False  # glibc read the operator's at start: left as it is
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    glibc = (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    assert limit_malloc_arenas() is glibc


CLIENT_COMMANDS = """
import importlib, json, sys
from loopback.cli import COMMAND_MODULES

for module in COMMAND_MODULES:
    importlib.import_module(module)
print(json.dumps(sorted(sys.modules)))
"""


def test_the_clis_commands_load_no_web_framework() -> None:
    """A tenant's command talks to the API over HTTP: FastAPI and Starlette cost it half a second a
    run and serve no purpose there (``kit.errors`` holds the errors, ``kit.problems`` their answers)."""
    run = subprocess.run([sys.executable, "-c", CLIENT_COMMANDS], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    modules = set(json.loads(run.stdout.strip().splitlines()[-1]))
    assert "loopback.client.http" in modules  # the probe loaded the commands that call the API
    assert sorted({"fastapi", "starlette", "uvicorn"} & {name.split(".")[0] for name in modules}) == []
