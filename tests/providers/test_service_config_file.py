"""The providers file (``LOOPBACK_PROVIDERS_FILE``): parsed with environment references, applied
at the start of ``serve``, and applied again without changing anything."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from loopback.kit.secrets import Secret
from loopback.providers import config_file
from loopback.providers.config_file import ProvidersFileError
from loopback.providers.models import Provider, Region
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from loopback.serve import apply_providers_file
from tests.e2e.conftest import ServeProcess

FILE = Path("providers.yaml")

DECLARED = """
providers:
  - name: second
    family: s3
    display_name: Second storage
    access_key_id: ${SECOND_KEY_ID}
    secret_access_key: ${SECOND_SECRET}
    secrets:
      api_token: ${SECOND_TOKEN}
    slots:
      - name: slot-a
        access_key_id: SLOTKEYA
        secret_access_key: inline-slot-secret
    settings:
      isolation: organization
    regions:
      - code: sw-1
        name: SeaweedFS
        endpoint: ${SECOND_ENDPOINT}
        country: DE
      - code: sw-2
        name: Spare
        endpoint: ${SECOND_ENDPOINT}/
        enabled: false
"""


def environment(seaweedfs: EmbeddedSeaweedFS, **extra: str) -> dict[str, str]:
    return {
        "SECOND_KEY_ID": seaweedfs.identity.access_key_id,
        "SECOND_SECRET": seaweedfs.identity.secret_access_key,
        "SECOND_TOKEN": "token-from-the-environment",
        "SECOND_ENDPOINT": seaweedfs.endpoint,
        **extra,
    }


def problems_of(text: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    with pytest.raises(ProvidersFileError) as refused:
        config_file.parse(text, FILE, environ or {})
    return dict(refused.value.problems)


def snapshot(runtime: Runtime) -> dict[str, Any]:
    """Every row the file touches, with every column, ciphertexts included."""
    with runtime.db.session() as session:

        def rows(model: Any) -> list[dict[str, Any]]:
            return [
                {column.key: getattr(row, column.key) for column in model.__table__.columns}
                for row in session.scalars(select(model).order_by(model.id))
            ]

        return {"providers": rows(Provider), "regions": rows(Region), "secrets": rows(Secret)}


# --- parsing -------------------------------------------------------------------------------------


def test_environment_references_are_resolved_and_dollars_escaped(seaweedfs: EmbeddedSeaweedFS) -> None:
    text = DECLARED.replace("inline-slot-secret", "inline-$$-secret")
    declared = config_file.parse(text, FILE, environment(seaweedfs))
    [second] = declared.providers
    assert second.access_key_id == seaweedfs.identity.access_key_id
    assert second.secret_access_key is not None
    assert second.secret_access_key.get_secret_value() == seaweedfs.identity.secret_access_key
    assert second.secrets is not None
    assert second.secrets["api_token"].get_secret_value() == "token-from-the-environment"
    assert second.slots is not None
    assert second.slots[0].secret_access_key.get_secret_value() == "inline-$-secret"
    assert second.regions is not None
    assert [r.endpoint for r in second.regions] == [seaweedfs.endpoint, seaweedfs.endpoint]
    assert seaweedfs.identity.secret_access_key not in repr(declared)
    assert config_file.parse("", FILE, {}).providers == []


def test_a_bad_file_names_the_field_and_never_a_value(seaweedfs: EmbeddedSeaweedFS) -> None:
    environ = environment(seaweedfs)
    del environ["SECOND_SECRET"]
    with pytest.raises(ProvidersFileError) as refused:
        config_file.parse(DECLARED, FILE, environ)
    assert refused.value.problems == [
        ("providers[0].secret_access_key", "the environment variable SECOND_SECRET is not set")
    ]
    assert str(refused.value).startswith(f"providers file {FILE}: providers[0].secret_access_key: ")

    broken = DECLARED.replace("${SECOND_ENDPOINT}/", "ftp://nowhere")
    assert list(problems_of(broken, environment(seaweedfs))) == ["providers[0].regions[1].endpoint"]

    leaked = DECLARED.replace("${SECOND_ENDPOINT}/", "https://user:hunter2-secret@example.com")
    with pytest.raises(ProvidersFileError) as refused:
        config_file.parse(leaked, FILE, environment(seaweedfs))
    assert "hunter2-secret" not in str(refused.value)
    assert seaweedfs.identity.secret_access_key not in str(refused.value)

    assert list(problems_of("providers:\n  - name: x\n    family: s3\n    colour: red\n")) == [
        "providers[0].colour"
    ]
    twice = "providers:\n  - {name: x, family: s3}\n  - {name: x, family: s3}\n"
    assert problems_of(twice) == {"providers[1].name": "'x' is declared twice"}
    assert "not YAML: line 2, column 1" in problems_of("providers:\n\t- name: x\n")[""]
    assert list(problems_of("regions: []\n")) == [""]
    assert list(problems_of("providers: {name: x}\n")) == ["providers"]


# --- applying ------------------------------------------------------------------------------------


def test_applying_the_file_twice_changes_nothing(runtime: Runtime, seaweedfs: EmbeddedSeaweedFS) -> None:
    declared = config_file.parse(DECLARED, FILE, environment(seaweedfs))
    with runtime.db.session() as session:
        changes = config_file.apply(runtime.providers, session, declared)
    assert changes == {"second": ["created"]}
    first = snapshot(runtime)
    assert len(first["providers"]) == 2
    assert len(first["regions"]) == 3

    again = config_file.parse(DECLARED, FILE, environment(seaweedfs))
    with runtime.db.session() as session:
        assert config_file.apply(runtime.providers, session, again) == {}
    assert snapshot(runtime) == first  # no new row, no updated_at, no secret encrypted again

    with runtime.db.session() as session:
        provider = runtime.providers.get(session, "second")
        view = runtime.providers.view(session, provider)
        assert [(r.code, r.enabled, r.country) for r in view.regions] == [
            ("sw-1", True, "DE"),
            ("sw-2", False, None),
        ]
        assert view.capabilities is not None
        assert provider.settings["isolation"] == "organization"
        assert runtime.secrets.get(session, provider.settings["secret_refs"]["api_token"]) == (
            "token-from-the-environment"
        )


def test_a_changed_file_changes_what_it_changed(runtime: Runtime, seaweedfs: EmbeddedSeaweedFS) -> None:
    with runtime.db.session() as session:
        config_file.apply(
            runtime.providers, session, config_file.parse(DECLARED, FILE, environment(seaweedfs))
        )
    before = snapshot(runtime)

    rotated = environment(seaweedfs, SECOND_TOKEN="a-rotated-token")
    with runtime.db.session() as session:
        changes = config_file.apply(runtime.providers, session, config_file.parse(DECLARED, FILE, rotated))
    assert changes == {"second": ["secret api_token"]}
    after = snapshot(runtime)
    changed = [s["id"] for s, t in zip(before["secrets"], after["secrets"], strict=True) if s != t]
    second = next(p for p in after["providers"] if p["name"] == "second")
    assert changed == [second["settings"]["secret_refs"]["api_token"]]  # only that one re-encrypted
    assert second["updated_at"] > next(p for p in before["providers"] if p["name"] == "second")["updated_at"]

    # Fields an entry leaves out stay as they are: the file does not re-enable what the operator disabled.
    with runtime.db.session() as session:
        runtime.providers.set_enabled(session, runtime.providers.get(session, "second"), False)
    with runtime.db.session() as session:
        assert config_file.apply(runtime.providers, session, config_file.parse(DECLARED, FILE, rotated)) == {}
        assert runtime.providers.get(session, "second").enabled is False
    stated = DECLARED.replace("    family: s3\n", "    family: s3\n    enabled: true\n", 1)
    with runtime.db.session() as session:
        assert config_file.apply(runtime.providers, session, config_file.parse(stated, FILE, rotated)) == {
            "second": ["enabled"]
        }


def test_what_the_database_refuses_names_the_entry(runtime: Runtime, seaweedfs: EmbeddedSeaweedFS) -> None:
    unknown = config_file.parse("providers:\n  - {name: x, family: swift}\n", FILE, {})
    with runtime.db.session() as session, pytest.raises(ProvidersFileError) as refused:
        config_file.apply(runtime.providers, session, unknown)
    assert list(dict(refused.value.problems)) == ["providers[0].family"]

    local = config_file.parse(DECLARED.replace("name: second", "name: local"), FILE, environment(seaweedfs))
    with runtime.db.session() as session, pytest.raises(ProvidersFileError) as refused:
        apply_providers_file(runtime, session, local, embedded=True)
    assert list(dict(refused.value.problems)) == ["providers[0].name"]

    moved = DECLARED.replace("family: s3", "family: ionos")
    with runtime.db.session() as session:
        config_file.apply(
            runtime.providers, session, config_file.parse(DECLARED, FILE, environment(seaweedfs))
        )
    with runtime.db.session() as session, pytest.raises(ProvidersFileError) as refused:
        config_file.apply(runtime.providers, session, config_file.parse(moved, FILE, environment(seaweedfs)))
    assert "a family cannot change" in dict(refused.value.problems)["providers[0].family"]


# --- at the start of serve -----------------------------------------------------------------------


@pytest.fixture
def serve_processes() -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for serve in started:
        if serve.process is not None and serve.process.poll() is None:
            serve.process.kill()
            serve.process.wait()


def test_serve_applies_the_file_at_every_start(
    tmp_path: Path, seaweedfs: EmbeddedSeaweedFS, serve_processes: list[ServeProcess]
) -> None:
    declared = tmp_path / "providers.yaml"
    declared.write_text(DECLARED)

    def start() -> tuple[ServeProcess, dict[str, Any]]:
        serve = ServeProcess(tmp_path / "data", None)
        # The file's provider is the session's SeaweedFS: serve's own embedded one would only add
        # its start and stop to each of the two starts (about half of this test's time) and is
        # not what is tested here.
        serve.env.update(
            environment(seaweedfs), LOOPBACK_PROVIDERS_FILE=str(declared), LOOPBACK_EMBEDDED_STORAGE="false"
        )
        serve_processes.append(serve)
        serve.start()
        token = (serve.data_dir / "bootstrap-token").read_text().strip()
        answer = httpx.get(
            f"{serve.url}/v3/operator/providers/second",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return serve, answer.json()

    first, provider = start()
    assert provider["display_name"] == "Second storage"
    assert seaweedfs.identity.secret_access_key not in first.output()
    first.stop()
    second, again = start()
    assert again == provider  # updated_at included
    assert "every provider is as declared" in second.output()
    second.stop()


def test_serve_refuses_to_start_with_a_bad_file(tmp_path: Path) -> None:
    declared = tmp_path / "providers.yaml"
    declared.write_text(
        "providers:\n  - name: x\n    family: s3\n    regions:\n      - {code: a-1, endpoint: nope}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "loopback", "serve"],
        env={
            **ServeProcess(tmp_path / "data", None).env,
            "LOOPBACK_PROVIDERS_FILE": str(declared),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "providers[0].regions[0].endpoint" in done.stderr
    assert "Traceback" not in done.stderr
