"""Remove each tenant scope filter in turn and show the suite failing for each.

Every ``readable(statement, Model, scope)`` call in a ``repository.py`` is one filter; so is each
clause of ``kit.scoping.readable`` itself. For each, this script writes the source with that one
filter taken out, runs the tests that guard the tenant boundary, and puts the source back. A filter
whose removal no test notices is a hole: the script exits 1 and names it.

    uv run python scripts/mutate_scopes.py            # every filter (a few minutes)
    uv run python scripts/mutate_scopes.py --list     # the filters only
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "loopback"
GUARDS = [
    "tests/tenancy",
    "tests/credentials/test_endpoints_access_modes.py::test_another_projects_keys_answer_404_and_are_never_listed",
]


@dataclass(frozen=True)
class Filter:
    path: Path
    label: str
    original: str
    mutated: str


def filters() -> list[Filter]:
    found: list[Filter] = []
    for path in sorted(SRC.rglob("repository.py")):
        source = path.read_text()
        tree = ast.parse(source)
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            for call in [n for n in ast.walk(function) if isinstance(n, ast.Call)]:
                if isinstance(call.func, ast.Name) and call.func.id == "readable":
                    text = ast.get_source_segment(source, call)
                    inner = ast.get_source_segment(source, call.args[0])
                    assert text is not None
                    assert inner is not None
                    label = f"{path.relative_to(SRC)}:{call.lineno} {function.name}"
                    found.append(Filter(path, label, source, source.replace(text, inner, 1)))
    scoping = SRC / "kit" / "scoping.py"
    source = scoping.read_text()
    organization = "clauses = [model.organization_id == scope.organization_id]"
    project = "clauses.append(model.project_id == project_id)"
    found.append(
        Filter(
            scoping,
            "kit/scoping.py organization clause",
            source,
            source.replace(organization, "clauses = []"),
        )
    )
    found.append(Filter(scoping, "kit/scoping.py project clause", source, source.replace(project, "pass")))
    return found


def caught_by(output: str) -> str:
    failed = re.findall(r"^FAILED (\S+)", output, flags=re.MULTILINE)
    return ", ".join(sorted({name.split("[")[0] for name in failed})[:3]) or "(collection or setup error)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="name the filters and stop")
    arguments = parser.parse_args()
    every = filters()
    if arguments.list:
        for one in every:
            print(one.label)
        return 0
    holes = []
    started = time.monotonic()
    for index, one in enumerate(every, 1):
        assert one.mutated != one.original, f"{one.label}: nothing to remove"
        one.path.write_text(one.mutated)
        try:
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:randomly", "-n", "2", *GUARDS],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=900,
            )
        finally:
            one.path.write_text(one.original)
        verdict = "caught by " + caught_by(run.stdout) if run.returncode != 0 else "NOT CAUGHT"
        if run.returncode == 0:
            holes.append(one.label)
        print(
            f"[{index}/{len(every)} {time.monotonic() - started:5.0f} s] {one.label}: {verdict}", flush=True
        )
    print(f"{len(every) - len(holes)} of {len(every)} filters caught")
    return 1 if holes else 0


if __name__ == "__main__":
    sys.exit(main())
