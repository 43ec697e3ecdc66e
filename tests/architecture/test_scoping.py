"""The tenant boundary is one piece of code: only repositories select a tenant's rows.

An AST walk over ``src/`` (polar's org-scope lint is the model): outside ``*/repository.py`` and the
migrations, no ``select``, ``select_from`` or ``join`` may name a tenant model, and ``session.get``
of one is allowed only where the id comes from the installation itself (a task's argument, the
caller's own scope), each listed below with its reason. Every repository builds its tenant reads
on ``kit.scoping.readable``.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "loopback"
assert (SRC / "kit" / "scoping.py").is_file(), f"the guard would walk nothing: {SRC}"
TENANT_MODELS = frozenset(
    {
        "Bucket",
        "BucketEvent",
        "BucketTotals",
        "Credential",
        "CredentialGrant",
        "Project",
        "Membership",
        "ApiToken",
        "AuditEvent",
        "WebhookEndpoint",
        "WebhookDelivery",
    }
)
QUERY_CALLS = frozenset({"select", "select_from", "join", "outerjoin"})
# session.get of a tenant model by an id the installation itself holds, never one a caller sent.
GETS_BY_OWN_ID = {
    ("buckets/reconcile.py", "_claim"): "a task's bucket id, enqueued by the service",
    ("buckets/reconcile.py", "_release"): "the bucket the running reconcile claimed",
    ("credentials/maintenance.py", "released"): "a key the delete's own release plan named",
    ("credentials/maintenance.py", "revoke_due"): "a key the periodic round (or a rotation) named",
    ("credentials/issuing.py", "forget"): "the bucket an abandoned issue's own row names",
    ("tenancy/organizations.py", "project"): "the scope's own project id, resolved by project_scope",
    ("webhooks/delivery.py", "_record"): "the delivery the running task claimed",
}


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


ALLOWED_GETS_SEEN: set[tuple[str, str]] = set()


def violations() -> list[str]:
    found: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if path.name == "repository.py" or relative.startswith("migrations/"):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
            for call in [n for n in ast.walk(function) if isinstance(n, ast.Call)]:
                name = _call_name(call)
                named = set().union(*(_names(a) for a in call.args)) & TENANT_MODELS if call.args else set()
                if name in QUERY_CALLS and named:
                    found.append(
                        f"{relative}:{call.lineno} {function.name}: {name}({', '.join(sorted(named))})"
                    )
                first = call.args[0] if call.args else None
                if name == "get" and isinstance(first, ast.Name) and first.id in TENANT_MODELS:
                    if (relative, function.name) in GETS_BY_OWN_ID:
                        ALLOWED_GETS_SEEN.add((relative, function.name))
                    else:
                        found.append(
                            f"{relative}:{call.lineno} {function.name}: session.get({first.id}, ...)"
                        )
    return sorted(set(found))


def test_only_repositories_select_a_tenants_rows() -> None:
    assert violations() == [], "read these through the domain's repository.py with the caller's scope"


def test_the_allowed_gets_are_all_still_there() -> None:
    """An exception nobody needs any more is taken off the list, so it cannot cover new code."""
    violations()
    assert set(GETS_BY_OWN_ID) == ALLOWED_GETS_SEEN


def test_the_guard_sees_a_query_outside_a_repository(tmp_path: Path, monkeypatch: object) -> None:
    """The walk itself can fail: a module that selects buckets by hand is reported."""
    import tests.architecture.test_scoping as guard

    package = tmp_path / "loopback"
    (package / "buckets").mkdir(parents=True)
    (package / "buckets" / "sneaky.py").write_text(
        "def every_bucket(session):\n"
        "    return session.scalars(select(Bucket)).all()\n"
        "def one_bucket(session, bucket_id):\n"
        "    return session.get(Bucket, bucket_id)\n"
    )
    original = guard.SRC
    guard.SRC = package
    try:
        assert guard.violations() == [
            "buckets/sneaky.py:2 every_bucket: select(Bucket)",
            "buckets/sneaky.py:4 one_bucket: session.get(Bucket, ...)",
        ]
    finally:
        guard.SRC = original


def test_every_repository_builds_on_the_one_readable_statement() -> None:
    for path in sorted(SRC.rglob("repository.py")):
        assert "readable(" in path.read_text(), f"{path} does not use kit.scoping.readable"
