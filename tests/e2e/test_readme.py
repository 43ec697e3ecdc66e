"""README.md as a newcomer runs it: its shell and Python blocks, in order, against a real ``loopback serve``.

The blocks run where a user runs them after ``make serve``: a new terminal in the serving directory
(here a temporary one holding ``.loopback/``, ``./loopback`` and ``.venv``), with neither ``uv`` nor
``loopback`` on ``PATH``. The one substitution is the server's address: the README's commands read
``LOOPBACK_API_URL`` (default ``http://127.0.0.1:8080``) and the test sets it to its own server.
Each block runs in its own ``bash`` with ``set -e``, given the shell variables the blocks before it
set, as one terminal would hold them; ``curl`` gets ``--fail-with-body`` so that a line answered with
a problem (4xx, 5xx) fails its block instead of printing it. The token ``./loopback login`` asks for
comes on standard input, as a paste would. A block the test cannot run is marked in the README with
``<!-- readme-test: skip (why) -->`` on the line before it, and ``SKIPPED`` lists those reasons.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Databases
from tests.e2e.conftest import ServeProcess

REPOSITORY = Path(__file__).resolve().parents[2]
README = REPOSITORY / "README.md"
WRAPPER = REPOSITORY / "loopback"

# Every block the README marks as not runnable here, by its reason, in the README's order: a new skip
# shows up in this list's diff, where a reviewer reads why.
SKIPPED = [
    "make serve is the server the other blocks talk to; make test is the whole suite",
    "this is the server itself; the test starts its own loopback serve",
    "needs a real MinIO at s3.fra.example.com",
    "needs a Kubernetes cluster with COSI's controller and CRDs installed",
    "restarts every process of an installation that runs with LOOPBACK_SECRET_KEY",
    "needs PostgreSQL at db and Redis at queue, and runs servers that do not return",
    "the whole test suite, this test included",
    "the whole benchmark takes most of an hour and starts its own loopback serve",
]

FENCE = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$", re.S | re.M)
SKIP_MARK = re.compile(r"<!-- readme-test: skip \((?P<reason>.+)\) -->")
RUNNABLE = {"sh", "bash", "python"}
# A command word `uv` or `loopback` (not ./loopback) at the start of a command, after an env prefix.
BARE_COMMAND = re.compile(
    r"(?:^|[;&|(]|\$\()\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*(?P<word>uv|loopback)(?:\s|$)"
)
BLOCK_TIMEOUT = 120.0  # the CLI walkthrough starts a dozen Python processes: slow on a loaded machine

# Runs around each shell block: restore the variables the earlier blocks set, then save them again.
PRELUDE = """\
__readme_known=$(compgen -v)
if [[ -f {state} ]]; then source {state}; fi
curl() {{ command curl --fail-with-body "$@"; }}
set -e
trap 'echo "readme-test: \\`$BASH_COMMAND\\` exited $?" >&2' ERR
"""
EPILOGUE = """
set +e
trap - ERR
for __readme_name in $(compgen -v); do
    case $__readme_name in __readme_*|BASH*|FUNCNAME|PIPESTATUS|_|COLUMNS|LINES) continue ;; esac
    grep -qxF "$__readme_name" <<<"$__readme_known" || declare -p "$__readme_name"
done > {state}
"""
NOT_ON_PATH = """#!/bin/sh
echo "readme-test: $(basename "$0") is not on PATH in a new terminal after make serve" >&2
exit 127
"""


@dataclass(frozen=True)
class Block:
    """One fenced code block of the README that a user would run."""

    line: int
    lang: str
    body: str
    skip_reason: str | None


def readme_blocks() -> list[Block]:
    """The README's sh, bash and python blocks, each with the skip reason marked on the line before it."""
    text = README.read_text()
    blocks = []
    for match in FENCE.finditer(text):
        if match.group("lang") not in RUNNABLE:
            continue
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = SKIP_MARK.fullmatch(before.strip())
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(Block(line, match.group("lang"), match.group("body"), mark and mark.group("reason")))
    return blocks


def commands(body: str) -> list[str]:
    """A shell block's commands: continuation lines joined, comments and blank lines left out."""
    joined = body.replace("\\\n", " ")
    return [
        line.split(" #")[0]
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_the_readme_marks_exactly_the_listed_blocks_as_skipped() -> None:
    skipped = [block.skip_reason for block in readme_blocks() if block.skip_reason]
    assert skipped == SKIPPED


def test_no_block_calls_uv_or_loopback_that_make_serve_leaves_off_path() -> None:
    bare = [
        f"README.md:{block.line}: {command.strip()}"
        for block in readme_blocks()
        if block.lang != "python"
        for command in commands(block.body)
        if BARE_COMMAND.search(command)
    ]
    assert bare == [], (
        "use ./loopback and .venv/bin/python: neither uv nor loopback is on PATH after make serve"
    )


def test_the_wrapper_says_to_install_when_the_venv_is_missing(tmp_path: Path) -> None:
    checkout = tmp_path / "fresh-checkout"
    checkout.mkdir()
    shutil.copy2(WRAPPER, checkout / "loopback")
    ran = subprocess.run(["./loopback", "whoami"], cwd=checkout, capture_output=True, text=True, timeout=10)
    assert ran.returncode == 127
    assert "make install" in ran.stderr
    assert ran.stdout == ""


@pytest.fixture
def short_directory() -> Iterator[Path]:
    """The serving directory, short: SeaweedFS's filer.sock under .loopback/ must fit a unix socket
    path (108 bytes), which pytest's tmp_path under xdist does not leave room for."""
    made = Path(tempfile.mkdtemp(prefix="lb-readme-"))
    yield made
    shutil.rmtree(made, ignore_errors=True)


def user_environment(outside: Path, serve: ServeProcess) -> dict[str, str]:
    """A new terminal's environment: none of this process's LOOPBACK_* or venv, uv and loopback absent."""
    shadows = outside / "not-on-path"
    shadows.mkdir()
    for name in ("uv", "loopback"):
        (shadows / name).write_text(NOT_ON_PATH)
        (shadows / name).chmod(0o755)
    venv_bin = str(Path(sys.prefix) / "bin")
    path = [
        str(shadows),
        *(entry for entry in os.environ.get("PATH", "").split(os.pathsep) if entry != venv_bin),
    ]
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("LOOPBACK_", "AWS_", "PYTEST_")) and name != "VIRTUAL_ENV"
    }
    env.update(
        PATH=os.pathsep.join(path),
        LOOPBACK_API_URL=serve.url,  # the README's one documented substitution
        LOOPBACK_CONFIG_DIR=str(outside / "config"),  # `./loopback login` writes here, not to ~
        AWS_CONFIG_FILE=str(outside / "aws-config"),  # nothing of this machine's aws profiles
        AWS_SHARED_CREDENTIALS_FILE=str(outside / "aws-credentials"),
    )
    for name in ("LOOPBACK_DATABASE_URL", "LOOPBACK_QUEUE_URL", "LOOPBACK_QUEUE_NAME"):
        if name in serve.env:  # an installation on PostgreSQL: its operator's terminal holds these
            env[name] = serve.env[name]
    return env


def test_readme_blocks_run(
    databases: Databases, tmp_path: Path, short_directory: Path, serve_factory: list[ServeProcess]
) -> None:
    if shutil.which("aws") is None:
        reason = "aws-cli is not on PATH; the README's upload uses it (pip install awscli)"
        if os.environ.get("LOOPBACK_TEST_REQUIRE_TOOLS") == "1":
            pytest.fail(reason + " (LOOPBACK_TEST_REQUIRE_TOOLS=1 requires it)")
        pytest.skip(reason)
    work = short_directory
    (work / "loopback").symlink_to(WRAPPER)
    (work / ".venv").symlink_to(Path(sys.prefix))
    serve = ServeProcess(work / ".loopback", databases)
    serve_factory.append(serve)
    serve.start()
    token = (serve.data_dir / "bootstrap-token").read_text().strip()
    env = user_environment(tmp_path, serve)
    state = tmp_path / "shell-state.sh"

    ran = 0
    for number, block in enumerate(readme_blocks()):
        if block.skip_reason:
            continue
        body = block.body
        if block.lang == "python":
            script = work / f"readme-block-{number}.py"
            script.write_text(block.body)
            body = f".venv/bin/python {shlex.quote(script.name)}\n"
        quoted = shlex.quote(str(state))
        try:
            result = subprocess.run(
                ["bash", "-c", PRELUDE.format(state=quoted) + body + EPILOGUE.format(state=quoted)],
                cwd=work,
                env=env,
                input=token + "\n",  # what a user pastes when `./loopback login` asks
                capture_output=True,
                text=True,
                timeout=BLOCK_TIMEOUT,
                start_new_session=True,  # no terminal to prompt on: the prompt reads standard input
            )
        except subprocess.TimeoutExpired as timeout:
            pytest.fail(
                f"README.md:{block.line}: the block ran over {BLOCK_TIMEOUT} s\n{block.body}\n"
                f"--- stdout\n{timeout.stdout!r}\n--- stderr\n{timeout.stderr!r}\n"
                f"--- serve\n{serve.output()[-3000:]}"
            )
        assert result.returncode == 0, (
            f"README.md:{block.line}: the block exited {result.returncode}\n{block.body}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n--- serve\n{serve.output()[-3000:]}"
        )
        ran += 1
    assert ran >= 10, f"only {ran} blocks ran: did the README's fences change?"
