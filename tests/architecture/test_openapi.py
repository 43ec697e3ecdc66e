"""schemathesis over the OpenAPI document: every operation, every check, a fixed seed, no failure.

Each answer must be one the document describes (status, media type, schema, headers), valid input
must be accepted and invalid input refused, and nothing may answer a 5xx. The calls go over ASGI
as the bootstrap operator, inside organization ``demo`` and project ``default`` so that they reach
the services; the deletes of an organization and a project aim at ``scratch`` instead, so that
the operations after them still find ``demo``.

Valid input may still answer 422 where the rule depends on what is recorded (a provider or bucket
that must exist, a cursor this API issued) or on more than a schema can say: those operations
are listed in ``STATE_DEPENDENT`` with the reason, and every other operation must accept whatever
its schema allows. Provider calls to anything but this machine go to a closed local port.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.engine import events, from_schema

from loopback.app import create_app
from loopback.kit.settings import Settings
from loopback.runtime import Runtime
from tests.conftest import OPERATOR_HEADERS, Databases

ORGANIZATIONS = "/v3/organizations"
PROJECT = ORGANIZATIONS + "/{org}/projects/{project}"
STATE_DEPENDENT: dict[str, str] = {
    # operation label -> why a schema-valid request may still answer 422
    f"GET {ORGANIZATIONS}/{{org}}/audit-events": "a cursor is one this API issued",
    f"GET {PROJECT}/buckets": "a cursor is one this API issued",
    f"GET {PROJECT}/credentials": "a cursor is one this API issued",
    f"GET {PROJECT}/buckets/{{bucket_id}}/credentials": "a cursor is one this API issued",
    f"POST {PROJECT}/buckets": "the provider and region must exist; IP-like names are refused",
    f"POST {PROJECT}/buckets/validate": "the provider and region must exist; IP-like names are refused",
    f"POST {PROJECT}/buckets/adopt": "the provider, region and the bucket at the provider must exist",
    f"POST {PROJECT}/buckets/{{bucket_id}}/replace": "the provider and region must exist",
    f"POST {PROJECT}/credentials": "granted buckets must exist in the project; expiry in the future",
    f"PATCH {PROJECT}/credentials/{{credential_id}}": "granted buckets must exist in the project",
    f"POST {PROJECT}/buckets/{{bucket_id}}/credentials": "the expiry must be in the future",
    f"POST {PROJECT}/credentials/{{credential_id}}/rotate": "the grace period fits the key's expiry",
    f"POST {ORGANIZATIONS}/{{org}}/tokens": "the project must exist and the role fit it",
    "POST /v3/user/tokens": "the role cap fits the user's roles",
    "POST /v3/operator/providers": "each family needs its own settings, secrets and regions",
    "PATCH /v3/operator/providers/{name}": "each family needs its own settings, secrets and regions",
    "POST /v3/operator/providers/{name}/test": "the region must be one of the provider's",
    f"GET {ORGANIZATIONS}/{{org}}/billing/usage": "`from` must come before `to` (its default: now)",
    f"PUT {PROJECT}/quotas": "a project's quota is never above its organization's",
    f"POST {ORGANIZATIONS}/{{org}}/webhooks": "an https URL (http to loopback if allowed); known event types",
    f"PATCH {ORGANIZATIONS}/{{org}}/webhooks/{{webhook_id}}": "an https URL; known event types",
    "POST /v2/organizations/{org}/projects/{project}/buckets": "the provider and region must exist",
}


@pytest.fixture
def settings(databases: Databases, tmp_path: Path) -> Settings:
    """conftest's settings, with room for the many refused tokens the ``ignored_auth`` check sends."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=databases.database_url,
        queue_url=databases.queue_url,
        queue_name=databases.queue_name,
        bootstrap_token="lbk_test-operator-token",
        embedded_storage=False,
        auth_failures_per_minute=1_000_000,
    )


def config() -> SchemathesisConfig:
    scratch = {"parameters": {"org": "scratch", "project": "scratch"}}
    return SchemathesisConfig.from_dict(
        {
            "seed": 11,
            "headers": dict(OPERATOR_HEADERS),
            # 4 fuzzed cases an operation (225 calls) besides the coverage phase's 2601 deterministic
            # ones (at least 3 an operation): every one of the 69 operations in both phases. 8 made
            # 426 fuzzed calls for a third of the run's time.
            "generation": {"max-examples": 4, "deterministic": True, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "parameters": {"org": "demo", "project": "default"},
            "operations": [
                {"include-path": f"{ORGANIZATIONS}/{{org}}", "include-method": "DELETE", **scratch},
                {"include-path": f"{PROJECT}", "include-method": "DELETE", **scratch},
                *(
                    {
                        "include-name": label,
                        "checks": {
                            "positive_data_acceptance": {
                                "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
                            }
                        },
                    }
                    for label in STATE_DEPENDENT
                ),
            ],
        }
    )


@pytest.fixture
def app(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Any:
    # A provider the run configures at a made-up host must not reach past this machine.
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    app = create_app(runtime)
    with TestClient(app, headers=OPERATOR_HEADERS) as client:
        for path in (ORGANIZATIONS, f"{ORGANIZATIONS}/scratch/projects"):
            assert client.post(path, json={"slug": "scratch"}).status_code == 201
    return app


def failures_of(stream: Iterable[events.EngineEvent]) -> tuple[list[str], int]:
    """Every failed check and engine error of a run, as readable lines; and how many calls were made."""
    found: list[str] = []
    calls = 0
    for event in stream:
        if isinstance(event, events.FatalError):
            found.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.NonFatalError):
            found.append(f"{event.label}: error: {event.info.format()}")
        elif isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            calls += len(event.recorder.interactions)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        found.append(
                            f"{event.recorder.label}: {check.name}: {failure.title}\n{failure.message}\n"
                            f"{check.failure_info.code_sample}"
                        )
    return sorted(set(found)), calls


@pytest.mark.timeout(900)
def test_every_operation_answers_as_documented(app: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config())
    operations = sum(isinstance(result, Ok) for result in schema.get_all_operations())
    assert operations > 50  # every operation of the API is in the run
    found, calls = failures_of(from_schema(schema).execute())
    assert calls > operations * 5
    assert not found, f"{len(found)} failures:\n\n" + "\n\n".join(found)


def test_problems_and_constraints_are_in_the_document(runtime: Runtime) -> None:
    """What schemathesis relies on, said plainly: problem media type, family enum, slug pattern."""
    document = create_app(runtime).openapi()
    paths, schemas = document["paths"], document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    create = paths[ORGANIZATIONS]["post"]["responses"]
    for status in ("400", "401", "403", "409", "413", "422", "429"):
        assert list(create[status]["content"]) == ["application/problem+json"], status
    assert set(paths[f"{PROJECT}/buckets/{{bucket_id}}"]["delete"]["responses"]) >= {"404", "409", "503"}
    slug = schemas["OrganizationCreate"]["properties"]["slug"]
    assert (slug["minLength"], slug["maxLength"], slug["pattern"]) == (3, 63, "^[a-z](?:-?[a-z0-9])+$")
    assert schemas["ProviderCreate"]["properties"]["family"]["enum"] == ["s3", "ionos", "hetzner"]
    assert schemas["BucketCreate"]["properties"]["name"]["maxLength"] == 63
    assert schemas["Problem"]["properties"]["request_id"]
