"""Upgrades one version at a time without an outage: the previous release (the commit
``.ci/previous-release`` names) passes its own smoke tests on a database this code migrated, as
its replicas do while this version rolls out beside them (issue 16; docs/upgrades.md).

The previous release's ``src`` and ``tests`` are taken from git (``git archive``), its suite is run
with ``-m smoke`` on the backends this run uses, and its ``migrate_for_test`` hands each test's
database to this code's migrations first (``LOOPBACK_TEST_MIGRATED_BY``), then starts on it as
its ``serve`` would: expand migrations only, or it refuses to start, and the test fails.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
PREVIOUS = REPOSITORY / ".ci" / "previous-release"
SMOKE_TESTS = 6  # tests marked smoke in the previous release, per backend


def previous_release() -> str:
    """The commit the file names: its first word that is not in a comment."""
    for line in PREVIOUS.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            return words[0]
    raise AssertionError(f"{PREVIOUS} names no commit")


def test_the_previous_release_passes_its_smoke_tests_on_the_schema_this_one_migrates_to(
    tmp_path: Path,
) -> None:
    if shutil.which("git") is None or not (REPOSITORY / ".git").exists():
        pytest.skip("not a git checkout: the previous release cannot be read")
    commit = previous_release()
    archive = subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", "--format=tar", commit, "src", "tests", "pyproject.toml"],
        capture_output=True,
        check=False,
    )
    assert archive.returncode == 0, (
        f"commit {commit} (named in .ci/previous-release) is not in this clone: "
        f"{archive.stderr.decode(errors='replace').strip()}; a shallow clone needs `git fetch --unshallow`"
    )
    previous = tmp_path / "previous"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as files:
        files.extractall(previous, filter="data")

    backends = 2 if os.environ.get("LOOPBACK_TEST_DATABASE_URL") else 1
    env = {
        **os.environ,
        "PYTHONPATH": str(previous / "src"),  # before the installed (this) Loopback
        "LOOPBACK_TEST_MIGRATED_BY": str(REPOSITORY / "src"),
    }
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST"):
        env.pop(name, None)
    marked = sorted(  # collecting only these files spares collecting the whole suite
        str(path.relative_to(previous))
        for path in (previous / "tests").rglob("test_*.py")
        if "pytest.mark.smoke" in path.read_text()
    )
    assert marked, f"the previous release ({commit}) marks no test smoke"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "smoke",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            *marked,
        ],
        cwd=previous,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    summary = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, f"the previous release ({commit}) failed on this schema:\n{summary}"
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed is not None, summary
    assert int(passed.group(1)) == SMOKE_TESTS * backends, summary
