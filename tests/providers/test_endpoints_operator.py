"""The operator's provider routes: create, show masked, update and rotate, enable and disable,
regions, the round trip, /readyz, who may call them, and that no secret ever leaves."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from loopback.kit.logs import formatter_for
from loopback.kit.ports import free_ports
from loopback.kit.secrets import Secret
from loopback.providers import registry
from loopback.providers.base import Capabilities, ProviderSetup, RegionSpec
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from loopback.tenancy.service import issue_user_token
from tests.conftest import BUCKETS, unique_bucket_name, wait_for_status

PROVIDERS = "/v3/operator/providers"
CHECK_STEPS = [
    "create bucket",
    "issue key",
    "write object",
    "read object",
    "delete object",
    "revoke key",
    "delete bucket",
]


def s3_provider(seaweedfs: EmbeddedSeaweedFS, name: str = "second", **fields: Any) -> dict[str, Any]:
    """A provider of family s3 at the session's SeaweedFS, under a name of its own."""
    return {
        "name": name,
        "family": "s3",
        "display_name": "Second storage",
        "access_key_id": seaweedfs.identity.access_key_id,
        "secret_access_key": seaweedfs.identity.secret_access_key,
        "regions": [{"code": "sw-1", "name": "SeaweedFS", "endpoint": seaweedfs.endpoint, "country": "DE"}],
        **fields,
    }


def create(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(PROVIDERS, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def fields_of(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"]: e["detail"] for e in response.json()["errors"]}


def member_token(client: TestClient, runtime: Runtime, role: str = "member") -> str:
    email = f"{role}@demo.test"
    added = client.post("/v3/organizations/demo/members", json={"email": email, "role": role})
    assert added.status_code == 201, added.text
    with runtime.db.session() as session:
        return issue_user_token(session, email, "test", None).secret


def secret_rows(runtime: Runtime) -> dict[str, bytes]:
    with runtime.db.session() as session:
        return {s.id: s.ciphertext for s in session.scalars(select(Secret))}


# --- a family with built-in regions, as ionos and hetzner have ---------------------------------

BUILT_IN = [
    RegionSpec("fx-north", "North", "https://north.fixed.test"),
    RegionSpec("fx-south", "South", "https://south.fixed.test"),
]


class FixedFamily:
    """What the service sees of a family whose regions are built in."""

    def __init__(self, setup: ProviderSetup) -> None:
        self.name = setup.name
        self._slots = tuple(slot.name for slot in setup.slots)

    def regions(self) -> list[RegionSpec]:
        return list(BUILT_IN)

    def capabilities(self) -> Capabilities:
        return Capabilities(
            per_bucket_credentials=False, native_usage_stats=True, regions_fixed=True, notes=("test family",)
        )

    def slots(self) -> tuple[str, ...]:
        return self._slots

    def name_problems(self, bucket: str, region: str) -> list[str]:
        return []


def build_fixed(setup: ProviderSetup) -> Any:
    if "api_token" not in setup.secrets:
        raise ValueError(f"provider {setup.name} needs the secret api_token")
    return FixedFamily(setup)


@pytest.fixture
def fixed_family(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.FAMILIES, "fixed", build_fixed)


# --- create, list, show ------------------------------------------------------------------------


def test_an_s3_provider_is_created_and_shown_with_its_key_masked(
    client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    response = client.post(PROVIDERS, json=s3_provider(seaweedfs))
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{PROVIDERS}/second"
    created = response.json()
    assert created["family"] == "s3"
    assert created["display_name"] == "Second storage"
    assert created["enabled"] is True
    assert created["access_key_id"] == seaweedfs.identity.access_key_id[:4] + "…"
    assert created["secret_ref"].startswith("sec_")
    assert created["secrets"] == {}
    assert created["slots"] == []
    assert created["settings"] == {}
    assert created["capabilities"] == {
        "per_bucket_credentials": True,
        "native_usage_stats": False,
        "regions_fixed": False,
        "access_modes": ["read-write", "read-only", "write-only"],
        "prefixes": True,
        "max_buckets_per_key": 128,
        "revocable": True,
        "notes": [],
    }
    assert created["problem"] is None
    assert created["regions"] == [
        {
            "code": "sw-1",
            "name": "SeaweedFS",
            "endpoint": seaweedfs.endpoint,
            "country": "DE",
            "enabled": True,
            "endpoint_overridden": False,
        }
    ]
    assert created["last_check"] == {"status": "unchecked", "checked_at": None, "error": None}

    listed = client.get(PROVIDERS).json()["providers"]
    assert [p["name"] for p in listed] == ["local", "second"]
    assert listed[1] == created
    assert client.get(f"{PROVIDERS}/second").json() == created
    with runtime.db.session() as session:
        assert runtime.secrets.get(session, created["secret_ref"]) == seaweedfs.identity.secret_access_key
    for text in (response.text, client.get(PROVIDERS).text):
        assert seaweedfs.identity.secret_access_key not in text
        assert seaweedfs.identity.access_key_id not in text


def test_invalid_input_names_the_field_and_records_nothing(
    client: TestClient, seaweedfs: EmbeddedSeaweedFS
) -> None:
    unknown = fields_of(client.post(PROVIDERS, json=s3_provider(seaweedfs, family="swift")))
    assert list(unknown) == ["family"]
    assert "one of s3" in unknown["family"]

    regions = [
        {"code": "ok-1", "name": "One", "endpoint": seaweedfs.endpoint},
        {"code": "ok-2", "name": "Two", "endpoint": "ftp://example.com"},
    ]
    response = client.post(PROVIDERS, json=s3_provider(seaweedfs, regions=regions))
    problems = fields_of(response)
    assert list(problems) == ["regions[1].endpoint"]
    assert response.json()["errors"][0]["pointer"] == "#/regions/1/endpoint"

    new_region = fields_of(client.post(PROVIDERS, json=s3_provider(seaweedfs, regions=[{"code": "r-1"}])))
    assert new_region == {
        "regions[0].name": "required for a new region",
        "regions[0].endpoint": "required for a new region",
    }

    body = s3_provider(seaweedfs)
    del body["secret_access_key"]
    assert list(fields_of(client.post(PROVIDERS, json=body))) == ["secret_access_key"]
    del body["access_key_id"]
    assert list(fields_of(client.post(PROVIDERS, json=body))) == ["access_key_id"]

    settings = {"slots": [], "isolation": "everyone", "iam_endpoint": "not a url"}
    assert set(fields_of(client.post(PROVIDERS, json=s3_provider(seaweedfs, settings=settings)))) == {
        "settings.slots",
        "settings.isolation",
        "settings.iam_endpoint",
    }
    assert list(fields_of(client.post(PROVIDERS, json=s3_provider(seaweedfs, name="Not A Name")))) == ["name"]
    twice = [regions[0], regions[0]]
    assert list(fields_of(client.post(PROVIDERS, json=s3_provider(seaweedfs, regions=twice)))) == [
        "regions[1].code"
    ]

    assert [p["name"] for p in client.get(PROVIDERS).json()["providers"]] == ["local"]

    taken = client.post(PROVIDERS, json=s3_provider(seaweedfs, name="local"))
    assert taken.status_code == 409
    assert taken.headers["content-type"] == "application/problem+json"

    create(client, s3_provider(seaweedfs))
    assert list(fields_of(client.patch(f"{PROVIDERS}/second", json={"family": "ionos"}))) == ["family"]
    assert list(fields_of(client.patch(f"{PROVIDERS}/second", json={"access_key_id": "NEWKEY"}))) == [
        "secret_access_key"
    ]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/missing"),
        ("patch", "/missing"),
        ("post", "/missing/disable"),
        ("post", "/missing/enable"),
        ("post", "/missing/test"),
    ],
)
def test_an_unknown_provider_is_404(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, PROVIDERS + path, json={} if method != "get" else None)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "missing" in response.json()["detail"]


def test_a_member_may_read_regions_but_not_providers(client: TestClient, runtime: Runtime) -> None:
    headers = {"Authorization": f"Bearer {member_token(client, runtime)}"}
    assert client.get("/v3/regions", headers=headers).status_code == 200
    for method, path, permission in [
        ("get", PROVIDERS, "providers.read"),
        ("get", f"{PROVIDERS}/local", "providers.read"),
        ("post", PROVIDERS, "providers.manage"),
        ("patch", f"{PROVIDERS}/local", "providers.manage"),
        ("post", f"{PROVIDERS}/local/disable", "providers.manage"),
        ("post", f"{PROVIDERS}/local/test", "providers.manage"),
    ]:
        response = client.request(method, path, headers=headers, json={} if method != "get" else None)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["permission"] == permission
    assert client.get(f"{PROVIDERS}/local").json()["enabled"] is True


# --- update ------------------------------------------------------------------------------------


def test_giving_what_is_there_changes_nothing_and_rotation_takes_effect(
    client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    body = s3_provider(
        seaweedfs,
        secrets={"api_token": "token-value-0123456789"},
        slots=[{"name": "slot-a", "access_key_id": "SLOTKEYAAAA", "secret_access_key": "slot-secret-abcdef"}],
        settings={"isolation": "organization"},
    )
    created = create(client, body)
    assert set(created["secrets"]) == {"api_token"}
    assert created["secrets"]["api_token"].startswith("sec_")
    assert created["slots"] == [
        {
            "name": "slot-a",
            "access_key_id": "SLOT…",
            "secret_ref": created["slots"][0]["secret_ref"],
            "organization_id": None,
            "project_id": None,
        }
    ]
    assert created["settings"] == {"isolation": "organization"}
    stored = secret_rows(runtime)

    same = {k: v for k, v in body.items() if k not in ("name", "family")}
    again = client.patch(f"{PROVIDERS}/second", json=same)
    assert again.status_code == 200, again.text
    assert again.json() == created  # updated_at too
    assert secret_rows(runtime) == stored  # nothing re-encrypted

    rotated = client.patch(
        f"{PROVIDERS}/second",
        json={"access_key_id": seaweedfs.identity.access_key_id, "secret_access_key": "wrong-secret-value"},
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["updated_at"] > created["updated_at"]
    assert rotated.json()["secret_ref"] == created["secret_ref"]
    with runtime.db.session() as session:
        assert runtime.secrets.get(session, created["secret_ref"]) == "wrong-secret-value"
    failed = client.post(f"{PROVIDERS}/second/test").json()
    assert failed["ok"] is False
    assert failed["steps"][0]["step"] == "create bucket"
    assert failed["error"].startswith("create bucket: ")
    assert "wrong-secret-value" not in client.get(f"{PROVIDERS}/second").text

    client.patch(
        f"{PROVIDERS}/second",
        json={
            "access_key_id": seaweedfs.identity.access_key_id,
            "secret_access_key": seaweedfs.identity.secret_access_key,
        },
    )
    assert client.post(f"{PROVIDERS}/second/test").json()["ok"] is True

    dropped = client.patch(
        f"{PROVIDERS}/second", json={"secrets": {"api_token": None}, "settings": {"isolation": None}}
    ).json()
    assert dropped["secrets"] == {}
    assert dropped["settings"] == {}
    assert created["secrets"]["api_token"] not in secret_rows(runtime)


def test_a_disabled_provider_leaves_the_picker_and_refuses_new_buckets(
    client: TestClient, seaweedfs: EmbeddedSeaweedFS
) -> None:
    create(client, s3_provider(seaweedfs))
    disabled = client.post(f"{PROVIDERS}/second/disable")
    assert disabled.status_code == 200
    assert disabled.json()["enabled"] is False
    assert client.post(f"{PROVIDERS}/second/disable").json()["enabled"] is False  # already so
    assert [r["provider"] for r in client.get("/v3/regions").json()["regions"]] == ["local"]
    refused = client.post(
        BUCKETS, json={"name": unique_bucket_name(), "provider": "second", "region": "sw-1"}
    )
    assert fields_of(refused) == {"provider": "provider 'second' takes no new buckets"}

    assert client.post(f"{PROVIDERS}/second/enable").json()["enabled"] is True
    assert "second" in [r["provider"] for r in client.get("/v3/regions").json()["regions"]]


def test_regions_are_enabled_disabled_added_and_moved(
    client: TestClient, seaweedfs: EmbeddedSeaweedFS
) -> None:
    body = s3_provider(seaweedfs)
    body["regions"].append({"code": "sw-2", "name": "Second region", "endpoint": seaweedfs.endpoint})
    create(client, body)
    changed = client.patch(f"{PROVIDERS}/second", json={"regions": [{"code": "sw-2", "enabled": False}]})
    assert [(r["code"], r["enabled"]) for r in changed.json()["regions"]] == [("sw-1", True), ("sw-2", False)]
    offered = [(r["provider"], r["code"]) for r in client.get("/v3/regions").json()["regions"]]
    assert ("second", "sw-2") not in offered
    assert ("second", "sw-1") in offered
    refused = client.post(
        BUCKETS, json={"name": unique_bucket_name(), "provider": "second", "region": "sw-2"}
    )
    assert fields_of(refused) == {"region": "region 'sw-2' takes no new buckets"}

    name = unique_bucket_name()
    created = client.post(BUCKETS, json={"name": name, "provider": "second", "region": "sw-1"})
    assert created.status_code == 202, created.text
    bucket = created.json()
    assert wait_for_status(client, bucket["id"], "ready")["endpoint"] == seaweedfs.endpoint
    moved = seaweedfs.endpoint.replace("127.0.0.1", "localhost")
    client.patch(
        f"{PROVIDERS}/second", json={"regions": [{"code": "sw-1", "endpoint": moved, "country": "AT"}]}
    )
    assert client.get(f"{BUCKETS}/{bucket['id']}").json()["endpoint"] == moved  # tenants see the new one

    added = client.patch(
        f"{PROVIDERS}/second", json={"regions": [{"code": "sw-3", "name": "Third", "endpoint": moved}]}
    )
    assert [r["code"] for r in added.json()["regions"]] == ["sw-1", "sw-2", "sw-3"]
    assert added.json()["regions"][0]["country"] == "AT"


def test_a_family_with_built_in_regions_gets_them_all_and_the_operator_tunes_them(
    client: TestClient, fixed_family: None
) -> None:
    refused = fields_of(client.post(PROVIDERS, json={"name": "fixed", "family": "fixed"}))
    assert list(refused) == ["family"]
    assert "api_token" in refused["family"]

    body = {
        "name": "fixed",
        "family": "fixed",
        "display_name": "Fixed cloud",
        "secrets": {"api_token": "fixed-token-secret"},
        "regions": [
            {"code": "fx-south", "enabled": False},
            {"code": "fx-north", "endpoint": "https://eu.north.fixed.test/", "country": "SE"},
        ],
    }
    created = create(client, body)
    assert created["capabilities"]["regions_fixed"] is True
    assert created["settings"] == {}  # the overrides show on the regions
    assert created["regions"] == [
        {
            "code": "fx-north",
            "name": "North",
            "endpoint": "https://eu.north.fixed.test",
            "country": "SE",
            "enabled": True,
            "endpoint_overridden": True,
        },
        {
            "code": "fx-south",
            "name": "South",
            "endpoint": "https://south.fixed.test",
            "country": None,
            "enabled": False,
            "endpoint_overridden": False,
        },
    ]
    again = client.patch(
        f"{PROVIDERS}/fixed", json={k: v for k, v in body.items() if k not in ("name", "family")}
    )
    assert again.json()["updated_at"] == created["updated_at"]

    wrong = client.patch(
        f"{PROVIDERS}/fixed", json={"regions": [{"code": "fx-west"}, {"code": "fx-north", "name": "N"}]}
    )
    problems = fields_of(wrong)
    assert set(problems) == {"regions[0].code", "regions[1].name"}
    assert "fx-north, fx-south" in problems["regions[0].code"]

    reset = client.patch(
        f"{PROVIDERS}/fixed", json={"regions": [{"code": "fx-north", "endpoint": None}]}
    ).json()
    assert reset["regions"][0]["endpoint"] == "https://north.fixed.test"
    assert reset["regions"][0]["endpoint_overridden"] is False

    picker = client.get("/v3/regions", params={"family": "fixed"}).json()["regions"]
    assert [(r["provider"], r["code"], r["country"]) for r in picker] == [("fixed", "fx-north", "SE")]
    assert picker[0]["capabilities"]["notes"] == ["test family"]


# --- the round trip and readiness --------------------------------------------------------------


def test_the_round_trip_reports_each_step_and_leaves_nothing_behind(
    client: TestClient, operator_s3: Any
) -> None:
    before = client.get(f"{PROVIDERS}/local").json()
    assert client.get("/readyz").json()["providers"] == {"local": {"status": "unchecked", "checked_at": None}}

    response = client.post(f"{PROVIDERS}/local/test")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["ok"] is True, result
    assert result["provider"] == "local"
    assert result["region"] == "local-1"
    assert result["error"] is None
    assert [s["step"] for s in result["steps"]] == CHECK_STEPS
    assert all(s["ok"] and s["ms"] >= 0 and s["detail"] is None for s in result["steps"])
    assert result["total_ms"] == pytest.approx(sum(s["ms"] for s in result["steps"]), abs=0.5)

    after = client.get(f"{PROVIDERS}/local").json()
    assert after["last_check"] == {"status": "ok", "checked_at": result["checked_at"], "error": None}
    assert after["updated_at"] == before["updated_at"]  # a check is no change of configuration
    names = [b["Name"] for b in operator_s3.list_buckets().get("Buckets", [])]
    assert not [n for n in names if n.startswith("loopback-check-")]

    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["providers"]["local"]["status"] == "ok"

    unknown = client.post(f"{PROVIDERS}/local/test", json={"region": "nowhere-1"})
    assert list(fields_of(unknown)) == ["region"]


def test_a_failing_check_degrades_readyz_without_failing_it(client: TestClient) -> None:
    closed = f"http://127.0.0.1:{free_ports(1)[0]}"
    create(
        client,
        {
            "name": "gone",
            "family": "s3",
            "access_key_id": "GONEKEY123",
            "secret_access_key": "gone-secret-value",
            "regions": [{"code": "g-1", "name": "Gone", "endpoint": closed}],
        },
    )
    assert client.get("/readyz").json()["status"] == "ready"  # never tested: nothing to say yet

    result = client.post(f"{PROVIDERS}/gone/test").json()
    assert result["ok"] is False
    assert [(s["step"], s["ok"]) for s in result["steps"]] == [("create bucket", False)]
    assert "unreachable" in result["steps"][0]["detail"]

    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["checks"] == {"database": "ok", "queue": "ok", "secrets": "ok"}
    assert body["providers"]["gone"]["status"] == "failing"
    assert body["providers"]["gone"]["checked_at"] == result["checked_at"]
    assert body["providers"]["local"]["status"] == "unchecked"
    assert "error" not in body["providers"]["gone"]  # the reason is for the operator's eyes

    shown = client.get(f"{PROVIDERS}/gone").json()["last_check"]
    assert shown["status"] == "failing"
    assert shown["error"] == result["error"]


def test_no_secret_reaches_an_answer_or_a_log_line(
    client: TestClient, seaweedfs: EmbeddedSeaweedFS, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [
        seaweedfs.identity.secret_access_key,
        "api-token-never-shown-0001",
        "slot-secret-never-shown-0002",
        "rotated-secret-never-shown-0003",
        "inline-password-0004",
    ]
    answers = []

    def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = client.request(method, path, json=body)
        answers.append(response.text)
        return response

    call(
        "post",
        PROVIDERS,
        s3_provider(
            seaweedfs,
            secrets={"api_token": secrets[1]},
            slots=[{"name": "slot-a", "access_key_id": "SLOTKEY0001", "secret_access_key": secrets[2]}],
        ),
    )
    call("get", PROVIDERS)
    call("get", f"{PROVIDERS}/second")
    call("get", "/v3/regions")
    call(
        "patch",
        f"{PROVIDERS}/second",
        {"access_key_id": seaweedfs.identity.access_key_id, "secret_access_key": secrets[3]},
    )
    call("post", f"{PROVIDERS}/second/test")
    call("get", f"{PROVIDERS}/second")
    call("get", "/readyz")
    bad = call(
        "patch",
        f"{PROVIDERS}/second",
        {"regions": [{"code": "sw-1", "endpoint": f"https://user:{secrets[4]}@example.com"}]},
    )
    assert bad.status_code == 422
    call("patch", f"{PROVIDERS}/second", {"secret_access_key": secrets[3]})  # 422: a key is a pair
    call("post", PROVIDERS, {"name": "third", "family": "s3", "secret_access_key": 12345})
    call(
        "patch",
        f"{PROVIDERS}/second",
        {
            "access_key_id": seaweedfs.identity.access_key_id,
            "secret_access_key": seaweedfs.identity.secret_access_key,
        },
    )
    assert call("post", f"{PROVIDERS}/second/test").json()["ok"] is True

    # The log as `serve` writes it in either format (LOOPBACK_LOG_FORMAT), ids and exceptions included.
    written = {form: "\n".join(map(formatter_for(form).format, caplog.records)) for form in ("text", "json")}
    for secret in secrets:
        assert not [a for a in answers if secret in a], f"an answer carries {secret[:6]}…"
        assert secret not in caplog.text, f"a log line carries {secret[:6]}…"
        for form, lines in written.items():
            assert secret not in lines, f"a {form} log line carries {secret[:6]}…"
    with_keys = [a for a in answers if seaweedfs.identity.access_key_id in a]
    assert not with_keys, "an answer carries a whole access key id"


def test_a_hetzner_provider_gets_its_built_in_regions_with_their_countries(client: TestClient) -> None:
    created = create(
        client,
        {
            "name": "hetzner",
            "family": "hetzner",
            "display_name": "Hetzner",
            "slots": [
                {"name": "project-1", "access_key_id": "HZKEY0001", "secret_access_key": "hz-secret-1"}
            ],
            "regions": [{"code": "hel1", "enabled": False}],
        },
    )
    assert created["capabilities"]["regions_fixed"] is True
    assert [(r["code"], r["country"], r["enabled"]) for r in created["regions"]] == [
        ("fsn1", "DE", True),
        ("hel1", "FI", False),
        ("nbg1", "DE", True),
    ]
    assert created["slots"][0]["access_key_id"] == "HZKE…"
    picked = client.get("/v3/regions", params={"family": "hetzner"}).json()["regions"]
    assert [(r["code"], r["name"]) for r in picked] == [("fsn1", "Falkenstein"), ("nbg1", "Nuremberg")]
    unknown = fields_of(client.patch(f"{PROVIDERS}/hetzner", json={"regions": [{"code": "ash"}]}))
    assert list(unknown) == ["regions[0].code"]
