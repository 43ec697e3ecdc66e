"""Every figure of issue 14 in one command: the API's, the lists' and the rounds', one after another.

Each part runs as its own process (``api.py``, ``lists.py``, ``rounds.py``) and prints its figures
beside their baselines from the same run (``report.py``). With ``--quick`` the sizes shrink so the
whole run takes minutes instead of most of an hour; the ratios then say less about a million rows.
Usage: .venv/bin/python benchmarks/run.py [--quick]
  [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes: 100k rows, 2,000 buckets")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    rows, buckets = ("100000", "2000") if args.quick else ("1000000", "10000")
    parts = [
        ["api.py", "--postgres", args.postgres, "--redis", args.redis],
        ["lists.py", "--rows", rows, "--postgres", args.postgres],
        [
            "rounds.py",
            "--buckets",
            buckets,
            "--backends",
            "sqlite,postgresql",
            "--postgres",
            args.postgres,
            "--redis",
            args.redis,
        ],
    ]
    failed = []
    for part in parts:
        started = time.monotonic()
        print(f"== {' '.join(part)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / part[0]), *part[1:]], check=False).returncode:
            failed.append(part[0])
        print(f"== {part[0]} took {time.monotonic() - started:.0f} s", flush=True)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
