"""Expand and contract (docs/upgrades.md): ``serve``, ``worker`` and ``loopback migrate`` run only
the migrations the previous release still runs against; a contract migration waits for
``migrate --contract``, and once run, keeps an older Loopback from starting on the database."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

import loopback.migrations
from loopback.migrations import SchemaTooNew, start_on, upgrade
from loopback.serve import newest_revisions

VERSIONS = Path(loopback.migrations.__file__).parent / "versions"
# Migrations before this one predate the rule (they ran before anything was released).
FIRST_EXPAND_ONLY = "0017"
# What the previous release's code may not meet: a column, table or constraint gone or changed.
CONTRACTING = {"drop_column", "drop_table", "alter_column", "rename_table", "drop_constraint"}

EXPAND = """
import sqlalchemy as sa
from alembic import op

revision = "0098"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("buckets", sa.Column("expanded", sa.String(length=10), nullable=True))
"""
CONTRACT = """
import sqlalchemy as sa
from alembic import op

revision = "0099"
down_revision = "0098"
branch_labels = None
depends_on = None
contract = True


def upgrade() -> None:
    op.drop_column("buckets", "quota_name")
    op.create_table("schema_contracts", sa.Column("revision", sa.String(length=32), primary_key=True))
    op.execute("INSERT INTO schema_contracts (revision) VALUES ('0099')")
"""


@pytest.fixture
def newer_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This code's migrations plus a newer release's: an expand one (0098), then a contract one (0099)."""
    here = tmp_path / "migrations"
    shutil.copytree(VERSIONS.parent, here, ignore=shutil.ignore_patterns("__pycache__"))
    (head,) = newest_revisions()
    (here / "versions" / "0098_expand.py").write_text(EXPAND.format(head=head))
    (here / "versions" / "0099_contract.py").write_text(CONTRACT)
    monkeypatch.setattr(loopback.migrations, "HERE", here)
    return here


def columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns("buckets")}
    finally:
        engine.dispose()


def test_migrate_stops_before_a_contract_and_runs_it_when_asked(newer_release: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'loopback.db'}"
    assert upgrade(url) == ["0099"]  # the expand one ran; the contract one waits
    assert {"expanded", "quota_name"} <= columns(url)
    assert upgrade(url) == ["0099"]  # and waits however often it is run
    assert upgrade(url, contract=True) == []
    assert "quota_name" not in columns(url)


def test_an_older_loopback_starts_on_an_expanded_schema_and_refuses_a_contracted_one(
    newer_release: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'loopback.db'}"
    upgrade(url)  # the newer release's expand migration (0098)
    monkeypatch.setattr(loopback.migrations, "HERE", VERSIONS.parent)  # this, the older, code
    start_on(url)  # starts: 0098 only added
    assert "expanded" in columns(url)

    monkeypatch.setattr(loopback.migrations, "HERE", newer_release)
    upgrade(url, contract=True)
    monkeypatch.setattr(loopback.migrations, "HERE", VERSIONS.parent)
    with pytest.raises(SchemaTooNew, match="0099"):
        start_on(url)


def test_every_migration_since_the_rule_only_adds_unless_it_says_it_contracts() -> None:
    for path in sorted(VERSIONS.glob("*.py")):
        if path.name[:4] < FIRST_EXPAND_ONLY:
            continue
        tree = ast.parse(path.read_text())
        if any(
            isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "contract" for t in node.targets)
            for node in tree.body
        ):
            continue
        (upgrade_function,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"]
        for node in ast.walk(upgrade_function):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in CONTRACTING, (
                    f"{path.name}: op.{node.func.attr} in an expand migration; the previous release"
                    " still reads it: move it to a contract migration (docs/upgrades.md)"
                )
                if node.func.attr == "execute":
                    sql = ast.unparse(node.args[0]).upper() if node.args else ""
                    assert not any(word in sql for word in ("DROP ", " RENAME ", " TYPE ")), (
                        f"{path.name}: {sql[:80]} in an expand migration (docs/upgrades.md)"
                    )
