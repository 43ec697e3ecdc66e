"""The ``loopback`` client commands against the API over real HTTP: output, problems and exit codes.

Every test drives the Typer app with ``CliRunner`` against uvicorn serving ``create_app(runtime)``
on a port of its own; nothing of the API is mocked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner, Result

from loopback.app import create_app
from loopback.cli import app
from loopback.client.errors import ExitCode
from loopback.kit.ports import free_ports
from loopback.kit.settings import Settings
from loopback.runtime import Runtime
from loopback.serve import banner
from loopback.tenancy.bootstrap import BootstrapResult
from tests.live_server import LiveServer

OPERATOR_TOKEN = "lbk_test-operator-token"
OPERATOR = "operator@loopback.local"


@dataclass
class Cli:
    """``loopback ...`` as a user in a fresh shell runs it: only what a test sets is in the environment."""

    api_url: str
    home: Path

    def __call__(
        self, *args: str, token: str | None = OPERATOR_TOKEN, stdin: str | None = None, **env: str | None
    ) -> Result:
        environment: dict[str, str | None] = {
            "LOOPBACK_API_URL": self.api_url,
            "LOOPBACK_TOKEN": token,
            "LOOPBACK_ORG": None,
            "LOOPBACK_DATA_DIR": str(self.home / "no-data-dir"),
            "LOOPBACK_CONFIG_DIR": str(self.home / "config"),
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


@pytest.fixture
def cli(runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.chdir(tmp_path)  # no ./.loopback/bootstrap-token of a developer's checkout applies
    with LiveServer(create_app(runtime)) as server:
        yield Cli(server.url, tmp_path)


@pytest.fixture
def offline_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI pointed at a port where nothing listens."""
    monkeypatch.chdir(tmp_path)
    return Cli(f"http://127.0.0.1:{free_ports(1)[0]}", tmp_path)


# --- connection and tokens ---------------------------------------------------------------------


def test_whoami_names_the_operator_and_their_organizations(cli: Cli) -> None:
    result = cli.ok("whoami")
    assert OPERATOR in result.stdout
    assert "demo" in result.stdout
    assert "owner" in result.stdout

    user = cli.json("whoami")
    assert user["email"] == OPERATOR
    assert user["operator"] is True
    assert [(o["slug"], o["role"]) for o in user["organizations"]] == [("demo", "owner")]


def test_the_token_comes_from_the_bootstrap_file_when_none_is_given(cli: Cli, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    (data_dir / "bootstrap-token").write_text(OPERATOR_TOKEN + "\n")

    assert cli.json("whoami", token=None, LOOPBACK_DATA_DIR=str(data_dir))["email"] == OPERATOR

    (tmp_path / ".loopback").mkdir()
    (tmp_path / ".loopback" / "bootstrap-token").write_text(OPERATOR_TOKEN)
    assert cli.json("whoami", token=None, LOOPBACK_DATA_DIR=None)["email"] == OPERATOR


def test_no_token_says_how_to_give_one(offline_cli: Cli) -> None:
    result = offline_cli("orgs", "list", token=None)

    assert result.exit_code == ExitCode.AUTH
    assert "no API token" in result.stderr
    assert "--token" in result.stderr
    assert "LOOPBACK_TOKEN" in result.stderr
    assert "bootstrap-token" in result.stderr
    assert result.stdout == ""


def test_an_api_that_does_not_answer_is_named(offline_cli: Cli) -> None:
    result = offline_cli("whoami")

    assert result.exit_code == ExitCode.UNAVAILABLE
    assert f"cannot reach the API at {offline_cli.api_url}: is `loopback serve` running?" in result.stderr


def test_an_api_url_that_is_not_http_is_a_usage_error(offline_cli: Cli) -> None:
    result = offline_cli("whoami", "--api-url", "localhost:8080")

    assert result.exit_code == ExitCode.USAGE
    assert "must start with http:// or https://" in result.stderr


def test_an_unknown_token_exits_with_the_auth_code_and_says_where_it_came_from(cli: Cli) -> None:
    result = cli("whoami", "--token", "lbk_not-a-real-token", token=None)

    assert result.exit_code == ExitCode.AUTH
    assert "the token is unknown, revoked or expired (401)" in result.stderr
    assert "the token came from --token" in result.stderr


# --- organizations and projects ----------------------------------------------------------------


def test_organizations_create_list_show_rename_and_delete(cli: Cli) -> None:
    created = cli.ok("orgs", "create", "acme", "--name", "Acme")
    assert "acme" in created.stdout
    assert "Acme" in created.stdout
    assert "owner" in created.stdout

    listed = cli.json("orgs", "list")
    assert [o["slug"] for o in listed["organizations"]] == ["acme", "demo"]
    assert "acme" in cli.ok("orgs", "list").stdout

    assert cli.json("orgs", "show", "acme")["name"] == "Acme"
    renamed = cli.ok("orgs", "rename", "acme", "Acme Corporation")
    assert "Acme Corporation" in renamed.stdout
    assert cli.json("orgs", "show", "acme")["name"] == "Acme Corporation"

    declined = cli("orgs", "delete", "acme", stdin="n\n")
    assert declined.exit_code == ExitCode.REFUSED
    assert "Delete organization 'acme'" in declined.output
    assert cli.json("orgs", "show", "acme")["slug"] == "acme"

    deleted = cli.ok("orgs", "delete", "acme", stdin="y\n")
    assert "Deleted organization 'acme'" in deleted.stderr
    gone = cli("orgs", "show", "acme")
    assert gone.exit_code == ExitCode.REFUSED
    assert "organization 'acme' does not exist (404)" in gone.stderr


def test_a_refused_input_prints_each_field_and_exits_1(cli: Cli) -> None:
    result = cli("orgs", "create", "Not_A_Slug")

    assert result.exit_code == ExitCode.REFUSED
    assert "error: invalid input (422)" in result.stderr
    assert "slug: 3 to 63 lowercase letters, digits and single hyphens" in result.stderr

    both = cli("members", "add", "not-an-email", "--role", "emperor", "--org", "demo")
    assert both.exit_code == ExitCode.REFUSED
    lines = both.stderr.splitlines()
    assert "email: an email address such as ada@example.com" in lines
    assert "role: one of owner, admin, member, viewer, billing" in lines

    scripted = cli("orgs", "create", "Not_A_Slug", "--output", "json")
    assert scripted.exit_code == ExitCode.REFUSED
    problem = json.loads(scripted.stdout)
    assert problem["status"] == 422
    assert problem["errors"][0]["field"] == "slug"


def test_projects_create_list_show_and_rename_with_the_org_from_the_environment(cli: Cli) -> None:
    created = cli.ok("projects", "create", "web", "--name", "Website", LOOPBACK_ORG="demo")
    assert "web" in created.stdout
    assert "Website" in created.stdout

    listed = cli.json("projects", "list", LOOPBACK_ORG="demo")
    assert [p["slug"] for p in listed["projects"]] == ["default", "web"]
    assert "Website" in cli.ok("projects", "list", "--org", "demo").stdout

    cli.ok("projects", "rename", "web", "Public website", "--org", "demo")
    assert cli.json("projects", "show", "web", "--org", "demo")["name"] == "Public website"

    again = cli("projects", "create", "web", "--org", "demo")
    assert again.exit_code == ExitCode.REFUSED
    assert "a project 'web' exists already in 'demo'" in again.stderr
    assert "(409)" in again.stderr

    cli.ok("projects", "delete", "web", "--org", "demo", "--yes")
    assert [p["slug"] for p in cli.json("projects", "list", "--org", "demo")["projects"]] == ["default"]


def test_a_missing_org_is_a_usage_error(cli: Cli) -> None:
    result = cli("projects", "list")

    assert result.exit_code == ExitCode.USAGE
    assert "--org" in result.output


# --- members -----------------------------------------------------------------------------------


def test_members_add_set_role_and_remove_keep_the_last_owner(cli: Cli) -> None:
    added = cli.ok("members", "add", "Ada@Example.com", "--role", "member", "--org", "demo")
    assert "ada@example.com" in added.stdout
    members = cli.json("members", "list", "--org", "demo")["members"]
    assert {(m["email"], m["role"]) for m in members} == {(OPERATOR, "owner"), ("ada@example.com", "member")}

    changed = cli.ok("members", "set-role", "ada@example.com", "admin", "--org", "demo")
    assert "admin" in changed.stdout

    demoted = cli("members", "set-role", OPERATOR, "admin", "--org", "demo")
    assert demoted.exit_code == ExitCode.REFUSED
    assert "the last owner cannot be demoted; make another member owner first (409)" in demoted.stderr

    removed = cli("members", "remove", OPERATOR, "--org", "demo", "--yes")
    assert removed.exit_code == ExitCode.REFUSED
    assert "the last owner cannot be removed" in removed.stderr

    ada = next(m for m in members if m["email"] == "ada@example.com")
    cli.ok("members", "remove", ada["id"], "--org", "demo", "--yes")  # by membership id this time
    emails = [m["email"] for m in cli.json("members", "list", "--org", "demo")["members"]]
    assert emails == [OPERATOR]


def test_a_role_too_small_exits_with_the_auth_code_and_names_the_permission(cli: Cli) -> None:
    project_token = cli.json(
        "tokens", "create", "viewer's", "--org", "demo", "--project", "default", "--role-cap", "viewer"
    )["token"]

    result = cli("projects", "rename", "default", "Renamed", "--org", "demo", token=project_token)

    assert result.exit_code == ExitCode.AUTH
    assert "permission projects.manage" in result.stderr
    assert "(403" in result.stderr


# --- tokens ------------------------------------------------------------------------------------


def test_a_project_token_works_in_its_project_and_nowhere_else(cli: Cli) -> None:
    cli.ok("projects", "create", "other", "--org", "demo")
    created = cli.ok(
        "tokens", "create", "ci", "--org", "demo", "--project", "default", "--role-cap", "member"
    )
    assert "will not be shown again" in created.stderr
    project_token = created.stdout.strip().splitlines()[-1]
    assert project_token.startswith("lbk_")
    assert "ci" in created.stdout

    shown = cli.json("projects", "show", "default", "--org", "demo", token=project_token)
    assert shown["slug"] == "default"

    elsewhere = cli("projects", "show", "other", "--org", "demo", token=project_token)
    assert elsewhere.exit_code == ExitCode.REFUSED
    assert "project 'other' does not exist in organization 'demo' (404)" in elsewhere.stderr

    organization_wide = cli("projects", "list", "--org", "demo", token=project_token)
    assert organization_wide.exit_code == ExitCode.AUTH
    assert "permission projects.list" in organization_wide.stderr

    personal = cli("orgs", "list", token=project_token)
    assert personal.exit_code == ExitCode.AUTH
    assert "needs a personal token" in personal.stderr

    listed = cli.json("tokens", "list", "--org", "demo", "--project", "default")
    assert [(t["name"], t["project"], t["role_cap"]) for t in listed["tokens"]] == [
        ("ci", "default", "member")
    ]
    assert cli.json("tokens", "list", "--org", "demo", "--project", "other")["tokens"] == []


def test_whoami_with_a_project_token_names_its_organization_and_project(cli: Cli) -> None:
    cli.ok("orgs", "create", "acme")  # the token's maker is in another organization too
    issued = cli.json(
        "tokens", "create", "deploy", "--org", "demo", "--project", "default", "--role-cap", "viewer"
    )

    shown = cli.ok("whoami", token=issued["token"])

    lines = {line.split(None, 1)[0]: line.split(None, 1)[1].strip() for line in shown.stdout.splitlines()}
    assert (lines["organization"], lines["project"]) == ("demo", "default")
    assert issued["id"] in shown.stdout
    assert "viewer" in shown.stdout
    assert "this project only" in shown.stderr
    for elsewhere in ("acme", OPERATOR):
        assert elsewhere not in shown.output
    answer = cli.json("whoami", token=issued["token"])
    assert (answer["kind"], answer["organization"], answer["project"]) == ("project", "demo", "default")
    assert (answer["id"], answer["role_cap"], answer["user"]) == (issued["id"], "viewer", None)
    assert issued["token"] not in json.dumps(answer)

    cli.ok("tokens", "revoke", issued["id"], "--org", "demo")
    refused = cli("whoami", token=issued["token"])
    assert refused.exit_code == ExitCode.AUTH
    assert "the token is unknown, revoked or expired (401)" in refused.stderr


def test_a_revoked_token_then_exits_with_the_auth_code(cli: Cli) -> None:
    issued = cli.json("tokens", "create", "laptop", "--expires-in-days", "30")
    assert issued["token"].startswith("lbk_")
    assert issued["kind"] == "personal"
    assert cli.json("whoami", token=issued["token"])["token_id"] == issued["id"]

    names = [t["name"] for t in cli.json("tokens", "list")["tokens"]]
    assert "laptop" in names
    assert "laptop" in cli.ok("tokens", "list").stdout

    revoked = cli.ok("tokens", "revoke", issued["id"])
    assert f"Revoked token {issued['id']}" in revoked.stderr

    refused = cli("whoami", token=issued["token"])
    assert refused.exit_code == ExitCode.AUTH
    assert "the token is unknown, revoked or expired (401)" in refused.stderr
    assert "the token came from LOOPBACK_TOKEN" in refused.stderr


def test_a_project_token_is_revoked_through_its_organization(cli: Cli) -> None:
    issued = cli.json(
        "tokens", "create", "deploy", "--org", "demo", "--project", "default", "--role-cap", "viewer"
    )
    assert cli("projects", "show", "default", "--org", "demo", token=issued["token"]).exit_code == 0

    not_personal = cli("tokens", "revoke", issued["id"])
    assert not_personal.exit_code == ExitCode.REFUSED
    assert f"token {issued['id']} does not exist (404)" in not_personal.stderr

    cli.ok("tokens", "revoke", issued["id"], "--org", "demo")
    assert (
        cli("projects", "show", "default", "--org", "demo", token=issued["token"]).exit_code == ExitCode.AUTH
    )


def test_a_project_token_needs_a_project_and_a_role_cap(cli: Cli) -> None:
    no_project = cli("tokens", "create", "ci", "--org", "demo", "--role-cap", "member")
    assert no_project.exit_code == ExitCode.USAGE
    assert "--project" in no_project.output

    no_cap = cli("tokens", "create", "ci", "--org", "demo", "--project", "default")
    assert no_cap.exit_code == ExitCode.REFUSED
    assert "role_cap: Field required" in no_cap.stderr


# --- the audit log -----------------------------------------------------------------------------


def test_audit_lists_the_events_just_made_and_pages_through_all(cli: Cli) -> None:
    cli.ok("projects", "create", "audited", "--org", "demo")
    cli.ok("members", "add", "bob@example.com", "--role", "viewer", "--org", "demo")
    cli.ok("members", "set-role", "bob@example.com", "member", "--org", "demo")
    cli.ok("orgs", "rename", "demo", "Demo renamed")

    table = cli.ok("audit", "--org", "demo").stdout
    for action in ("project.create", "member.add", "member.role_change", "organization.rename"):
        assert action in table
    assert "bob@example.com as viewer" in table

    newest_first = cli.json("audit", "--org", "demo")
    actions = [e["action"] for e in newest_first["events"]]
    assert actions[:4] == ["organization.rename", "member.role_change", "member.add", "project.create"]
    assert newest_first["next_cursor"] is None

    first_page = cli("audit", "--org", "demo", "--limit", "2")
    assert "More events: --cursor" in first_page.stderr
    every = cli.json("audit", "--org", "demo", "--limit", "2", "--all")
    assert [e["id"] for e in every["events"]] == [e["id"] for e in newest_first["events"]]

    only_adds = cli.json("audit", "--org", "demo", "--action", "member.add")
    assert [e["detail"] for e in only_adds["events"]] == ["bob@example.com as viewer"]
    in_project = cli.json("audit", "--org", "demo", "--project", "audited")
    assert [e["action"] for e in in_project["events"]] == ["project.create"]


# --- the rest of the command -------------------------------------------------------------------


def test_every_answer_parses_as_json_for_scripts(cli: Cli) -> None:
    for command in (
        ["whoami"],
        ["orgs", "list"],
        ["orgs", "show", "demo"],
        ["projects", "list", "--org", "demo"],
        ["members", "list", "--org", "demo"],
        ["tokens", "list"],
        ["tokens", "list", "--org", "demo"],
        ["audit", "--org", "demo"],
    ):
        assert isinstance(cli.json(*command), dict), command


def test_the_server_side_commands_still_work(offline_cli: Cli) -> None:
    assert "--data-dir" in offline_cli.ok("serve", "--help").stdout
    assert offline_cli.ok("version").stdout.strip()
    assert "| `user.read` |" in offline_cli.ok("permissions").stdout
    assert "orgs" in offline_cli.ok("--help").stdout


def test_an_admin_command_that_cannot_open_the_database_says_which_and_what_to_set(offline_cli: Cli) -> None:
    """Outside the data directory, one line names the database and the settings, not a traceback."""
    missing = offline_cli.home / "no-data-dir"
    outside = offline_cli("admin", "token", "ada@example.com", LOOPBACK_DATABASE_URL=None)
    assert outside.exit_code == 1
    assert outside.stderr.splitlines() == [
        f"error: cannot use the database sqlite:///{missing / 'loopback.db'} (unable to open database file): "
        "set LOOPBACK_DATA_DIR to the data directory of `loopback serve` (or run this where it runs), "
        "or LOOPBACK_DATABASE_URL to its database"
    ]
    assert outside.stdout == ""

    unreachable = f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{free_ports(1)[0]}/loopback"
    two_keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    for command in (["admin", "token", "ada@example.com"], ["admin", "rotate-secret-key"]):
        refused = offline_cli(*command, LOOPBACK_DATABASE_URL=unreachable, LOOPBACK_SECRET_KEY=two_keys)
        assert refused.exit_code == 1, command
        [line] = refused.stderr.splitlines()
        assert line.startswith("error: cannot use the database postgresql+psycopg://postgres:***@127.0.0.1:")
        assert line.endswith("): check LOOPBACK_DATABASE_URL")
        assert "hunter2" not in refused.output


def test_the_start_banner_prints_the_token_once(tmp_path: Path) -> None:
    """Every copy of the banner in a log is a copy of the operator token: it holds one."""
    token = "lbk_banner-token-once"
    settings = Settings(data_dir=tmp_path, database_url="sqlite://")
    shown = banner(settings, BootstrapResult("demo", "default", token, tmp_path / "bootstrap-token"), None)

    assert shown.count(token) == 1
    assert f"  export LOOPBACK_TOKEN={token}" in shown.splitlines()
    assert "shown this once" in shown
    later = banner(settings, BootstrapResult("demo", "default", None, tmp_path / "bootstrap-token"), None)
    assert "lbk_" not in later
