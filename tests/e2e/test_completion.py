"""Shell completion as a user sets it up: installed from a script, then a TAB in a new bash.

The ``loopback`` on ``PATH`` is a link to the checkout's ``./loopback``, as README section 6 says to
make one, and ``HOME`` is a temporary directory, so the ``~/.bashrc`` written is the test's. The TAB
is typed into an interactive bash on a pseudo-terminal: readline, ``complete -F`` and the script
Typer wrote all take part, and the answer comes from Click through ``_LOOPBACK_COMPLETE``.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
TAB_SECONDS = 60.0  # each TAB starts the CLI's Python: seconds on a loaded machine

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def shell_environment(home: Path, **extra: str) -> dict[str, str]:
    """A login's environment: only HOME, a PATH with ``loopback`` on it, and what a test adds."""
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    link = bin_dir / "loopback"
    if not link.exists():
        link.symlink_to(REPOSITORY / "loopback")
    return {
        "HOME": str(home),
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "COLUMNS": "250",
        **extra,
    }


def in_sh(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``command`` in /bin/sh, as a Makefile, a Dockerfile's RUN or a CI step runs it."""
    return subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=120)


def typed(env: dict[str, str], keys: str, expected: str) -> str:
    """What an interactive bash shows after ``keys`` are typed, read until ``expected`` appears."""
    leader, follower = os.openpty()
    shell = subprocess.Popen(
        ["bash", "-i"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**env, "TERM": "dumb", "INPUTRC": "/dev/null"},
        cwd=env["HOME"],
        start_new_session=True,
    )
    os.close(follower)
    screen = ""
    try:
        # The startup files are read once the echo answers (its echoed line reads READY''TO TYPE).
        for text, wanted in (("echo READY''TO TYPE\n", "READYTO TYPE"), (keys, expected)):
            os.write(leader, text.encode())
            deadline = time.monotonic() + TAB_SECONDS
            while wanted not in screen and time.monotonic() < deadline:
                if select.select([leader], [], [], 0.5)[0]:
                    screen += os.read(leader, 4096).decode(errors="replace")
    finally:
        shell.kill()
        shell.wait(timeout=10)
        os.close(leader)
    return screen


def test_installed_from_sh_it_completes_a_command_in_a_new_bash(tmp_path: Path) -> None:
    env = shell_environment(tmp_path)

    installed = in_sh("loopback --install-completion bash", env)

    assert installed.returncode == 0, installed.stderr
    script = tmp_path / ".bash_completions" / "loopback.sh"
    assert f"bash completion for `loopback` is in {script}" in installed.stdout
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()
    screen = typed(env, "loopback buck\t", "loopback buckets ")
    assert "loopback buckets " in screen, screen
    screen = typed(env, "loopback buckets ado\t", "loopback buckets adopt ")
    assert "loopback buckets adopt " in screen, screen


def test_without_a_shell_named_it_takes_the_login_shell_or_says_to_name_one(tmp_path: Path) -> None:
    """/bin/sh is no shell Typer completes in; $SHELL is the one the user logs in with."""
    from_login = in_sh("loopback --install-completion", shell_environment(tmp_path, SHELL="/bin/bash"))
    assert from_login.returncode == 0, from_login.stderr
    assert (tmp_path / ".bash_completions" / "loopback.sh").is_file()

    unknown = in_sh("loopback --show-completion", shell_environment(tmp_path))
    assert unknown.returncode == 2
    assert "cannot tell which shell to complete in ('sh'" in unknown.stderr
    assert "loopback --show-completion bash" in unknown.stderr
    assert unknown.stdout == ""

    shown = in_sh("loopback --show-completion zsh", shell_environment(tmp_path))
    assert "compdef _loopback_completion loopback" in shown.stdout
