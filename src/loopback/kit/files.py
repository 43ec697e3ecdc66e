"""Files only their owner may read: keys, tokens, databases and the embedded storage's files.

The data directory holds every secret Loopback keeps at rest (the key file, the bootstrap token,
SQLite databases, SeaweedFS's identities and issued keys), so it and everything under it is
created 0700 (directories) and 0600 (files), and tightened to that at start when it is not.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
OTHERS = stat.S_IRWXG | stat.S_IRWXO


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and its missing parents) as 0700, and make an existing one 0700 too."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR)  # mkdir's mode is masked by the umask, and an existing dir keeps its own
    return path


def write_private(path: Path, content: bytes) -> None:
    """Write ``content`` with mode 0600 from the first byte, so it is never readable by others."""
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    os.chmod(path, PRIVATE_FILE)  # an existing file keeps its old mode through O_CREAT


def open_private_log(path: Path) -> int:
    """A file descriptor appending to ``path``, created 0600: logs may quote what they should not."""
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    return fd


def create_private_file(path: Path) -> None:
    """Create an empty 0600 file unless it exists, and make an existing one 0600.

    SQLite creates its database with the process's umask (0644 usually) and gives its ``-wal``
    and ``-shm`` files the database file's mode, so a database created here first stays private.
    """
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    os.chmod(path, PRIVATE_FILE)


def tighten_tree(root: Path) -> int:
    """Take group and other permissions off ``root`` and everything under it; how many changed.

    For data directories created by an older Loopback (or by SeaweedFS before it ran with a
    private umask): symbolic links are left alone, never followed, and a file removed while the
    walk runs (a compacted store file, say) is skipped.
    """
    changed = 0
    for directory, names, files in os.walk(root):
        for entry in [directory, *(os.path.join(directory, name) for name in [*names, *files])]:
            try:
                mode = os.lstat(entry).st_mode
                if stat.S_ISLNK(mode) or not mode & OTHERS:
                    continue
                os.chmod(entry, stat.S_IMODE(mode) & ~OTHERS)
            except FileNotFoundError:
                continue
            changed += 1
    return changed
