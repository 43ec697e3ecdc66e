"""What a /metrics scrape costs at a million buckets: the database figures, and a whole answer.

Not a test (the suite stays fast): a measurement, run by hand. It fills a database with
benchmarks/lists.py's bulk SQL (``--rows`` buckets in one project, a thousand in another), or
reads one already filled (``--url``), then times ``read_figures`` and a full ``Exposition.render``
(reading the database at every scrape), p50 of ``--repeat``.

Usage: .venv/bin/python -m tests.metrics.scrape_cost [--rows 1000000] [--repeat 7]
  [--url sqlite:////tmp/filled.db | postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from loopback.automation.queue import make_huey
from loopback.kit.db import Database
from loopback.kit.settings import Settings
from loopback.metrics.exposition import Exposition
from loopback.metrics.figures import read_figures
from loopback.migrations import upgrade

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def p50(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def filled(rows: int, directory: Path) -> str:
    sys.path.insert(0, str(BENCHMARKS))
    from lists import Tenant
    from lists import filled as fill

    url = f"sqlite:///{directory / 'metrics.db'}"
    upgrade(url)
    large = Tenant("large", rows, parity=0, spacing=1, unreconciled=False)
    small = Tenant("small", 1000, parity=1, spacing=max(rows // 1000, 1), unreconciled=True)
    fill(url, directory / "data", [large, small]).runtime.close()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--url", help="a database already filled")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loopback-scrape-") as directory:
        url = args.url or filled(args.rows, Path(directory))
        settings = Settings(data_dir=Path(directory), database_url=url, metrics_figures_seconds=0)
        db = Database(url, 2)
        exposition = Exposition(db, make_huey(settings), settings)

        def figures() -> object:
            with db.session() as session:
                return read_figures(session)

        found = read_figures_once(db)
        sys.stdout.write(f"{url.split(':')[0]}: {found} buckets\n")
        sys.stdout.write(f"  read_figures      p50 {p50(figures, args.repeat):.3f} s\n")
        sys.stdout.write(f"  a whole /metrics  p50 {p50(exposition.render, args.repeat):.3f} s\n")
        db.dispose()


def read_figures_once(db: Database) -> int:
    with db.session() as session:
        return sum(count.buckets for count in read_figures(session).buckets)


if __name__ == "__main__":
    main()
