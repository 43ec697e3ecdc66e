"""Lists flat at a million rows: a page of 100 of a project holding ``--rows`` buckets against one of
a project holding ``--small`` (1k) in the same table, on SQLite and on PostgreSQL.

Both projects are built by bulk SQL in one table, their ids interleaved in time as real ones are;
each holds about 150 rows of every rare kind (failed, at another provider, in another region,
superseded), so a rare filter fills a page at both sizes. The organization rollup compares the
organization of the large project with that of the small one. The resync, which reads every
project, compares that table with a second database holding the small project alone; only the
small project has buckets to re-enqueue, so both rounds find the same work.

What is timed is the bucket service itself (``BucketService.list``, ``page``, ``usage_by_project``,
``resync``), each call in a session of its own as a request's, both sizes interleaved, p50 of
``--repeat`` calls. ``--plans`` also prints the plan the database makes of each statement the
service sent at the large size (PostgreSQL: EXPLAIN ANALYZE).

Usage: .venv/bin/python benchmarks/lists.py [--rows 1000000] [--small 1000] [--repeat 25]
  [--backends sqlite,postgresql] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
  [--plans]
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from report import Figure, p50, print_figures
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from loopback.buckets.service import BucketFilters, BucketService
from loopback.kit.plans import explain, recorded
from loopback.kit.settings import Settings
from loopback.migrations import upgrade
from loopback.runtime import Runtime
from loopback.tenancy.access import OrganizationScope, Principal, ProjectScope

BATCH = 50_000  # rows a statement inserts
RARE = 150  # rows of each rare kind in each project
PAGE = 100
GOAL = 1.2


def ignore(task: str, *args: Any, delay: float | None = None) -> None:
    """The queue of the benchmark's service: the resync's enqueues are not what is measured."""


@dataclass(frozen=True)
class Tenant:
    """One organization with one project, and the scopes its owner calls the service with."""

    slug: str
    rows: int
    parity: int  # 0: even ids; 1: odd ids, spread over the same range
    spacing: int  # id numbers between two rows of this project
    unreconciled: bool  # whether its rare rows include buckets the resync re-enqueues

    @property
    def organization_id(self) -> str:
        return f"org_bench_{self.slug}"

    @property
    def project_id(self) -> str:
        return f"prj_bench_{self.slug}"

    def project(self) -> ProjectScope:
        principal = Principal("usr_bench", "bench@example.test", "tok_bench", is_operator=True)
        return ProjectScope(principal, self.organization_id, self.slug, "owner", self.project_id, self.slug)

    def organization(self) -> OrganizationScope:
        scope = self.project()
        return OrganizationScope(scope.principal, scope.organization_id, scope.organization_slug, "owner")


# --- building the table ---------------------------------------------------------------------------

# One row of a project from its position ``k`` (0-based) among ``:n`` rows: every ``:step``-th row
# (offset 1 to 5) is of a rare kind, so each project holds about RARE of each, spread in time.
KIND = "CASE WHEN k % :step BETWEEN 1 AND 5 THEN k % :step ELSE 0 END"
COLUMNS = (
    "id, organization_id, project_id, name, provider_id, region_id, status, desired_state, generation, "
    "observed_generation, attempts, endpoint, object_count, bytes, last_synced_at, created_at, "
    "updated_at, superseded_by_id, deletion_policy, force_delete, adopted"
)
VALUES = """
    {hex_id}, :org, :project, {name},
    CASE WHEN kind = 2 THEN 'prv_bench_other' ELSE 'prv_bench_local' END,
    CASE kind WHEN 2 THEN 'reg_bench_other' WHEN 3 THEN 'reg_bench_local2' ELSE 'reg_bench_local' END,
    CASE kind WHEN 1 THEN 'failed' WHEN 5 THEN CASE WHEN :unreconciled = 1 THEN 'provisioning'
        ELSE 'ready' END ELSE 'ready' END,
    'present', CASE WHEN kind = 5 AND :unreconciled = 1 THEN 2 ELSE 1 END, 1, 0,
    'http://127.0.0.1:1', k % 1000, k * 1024, :now, :now, :now,
    CASE WHEN kind = 4 THEN 'bkt_replaced' ELSE NULL END, 'delete', false, false
"""


def _series(dialect: str) -> tuple[str, dict[str, str]]:
    """Rows ``k`` from ``:first`` to ``:last`` with their number and kind, and the id and name of each."""
    if dialect == "postgresql":
        source = (
            f"SELECT k, k * :spacing * 2 + :parity AS num, {KIND} AS kind "
            "FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS k"
        )
        return source, {"hex_id": "'bkt_' || lpad(to_hex(num), 26, '0')", "name": "'b-' || to_hex(num)"}
    source = (
        "WITH RECURSIVE s(k) AS (SELECT :first UNION ALL SELECT k + 1 FROM s WHERE k < :last) "
        f"SELECT k, k * :spacing * 2 + :parity AS num, {KIND} AS kind FROM s"
    )
    return source, {"hex_id": "printf('bkt_%026x', num)", "name": "printf('b-%x', num)"}


def seed_placements(engine: Engine, now: Any, tenants: list[Tenant]) -> None:
    """The providers, regions, organizations and projects the buckets name."""
    with engine.begin() as connection:
        for provider in ("local", "other"):
            connection.execute(
                text(
                    "INSERT INTO providers (id, name, family, display_name, enabled, settings, created_at, "
                    "updated_at) VALUES (:id, :name, 's3', :name, true, '{}', :now, :now)"
                ),
                {"id": f"prv_bench_{provider}", "name": provider, "now": now},
            )
        for region, provider, code in (
            ("local", "local", "local-1"),
            ("local2", "local", "local-2"),
            ("other", "other", "other-1"),
        ):
            connection.execute(
                text(
                    "INSERT INTO regions (id, provider_id, code, name, endpoint, enabled, created_at) "
                    "VALUES (:id, :provider, :code, :code, 'http://127.0.0.1:1', true, :now)"
                ),
                {"id": f"reg_bench_{region}", "provider": f"prv_bench_{provider}", "code": code, "now": now},
            )
        for tenant in tenants:
            connection.execute(
                text("INSERT INTO organizations (id, slug, name, created_at) VALUES (:id, :s, :s, :now)"),
                {"id": tenant.organization_id, "s": tenant.slug, "now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO projects (id, organization_id, slug, name, created_at) "
                    "VALUES (:id, :org, :s, :s, :now)"
                ),
                {"id": tenant.project_id, "org": tenant.organization_id, "s": tenant.slug, "now": now},
            )


def insert_buckets(engine: Engine, now: Any, tenant: Tenant) -> None:
    """The tenant's rows by bulk SQL, ``BATCH`` a transaction, two at once on PostgreSQL (SQLite
    writes one at a time); the totals' triggers run as for any insert."""
    source, names = _series(engine.dialect.name)
    statement = text(f"INSERT INTO buckets ({COLUMNS}) SELECT {VALUES.format(**names)} FROM ({source}) AS r")
    step = max(tenant.rows // RARE, 6)

    def batch(first: int) -> None:
        with engine.begin() as connection:
            connection.execute(
                statement,
                {
                    "first": first,
                    "last": min(first + BATCH, tenant.rows) - 1,
                    "spacing": tenant.spacing,
                    "parity": tenant.parity,
                    "step": step,
                    "org": tenant.organization_id,
                    "project": tenant.project_id,
                    "unreconciled": int(tenant.unreconciled),
                    "now": now,
                },
            )

    with ThreadPoolExecutor(2 if engine.dialect.name == "postgresql" else 1) as pool:
        list(pool.map(batch, range(0, tenant.rows, BATCH)))


def settle(engine: Engine) -> None:
    """On PostgreSQL, what autovacuum does to a table this size soon after: statistics, visibility map."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE buckets")
            connection.exec_driver_sql("VACUUM ANALYZE bucket_totals")


# --- timing -----------------------------------------------------------------------------------------

Action = Callable[[Any], object]  # one call of the service, given a session of its own


@dataclass
class Side:
    """One database, with the bucket service over it."""

    runtime: Runtime
    buckets: BucketService

    def call(self, action: Action) -> float:
        """Milliseconds of one call in a session of its own, as a request makes it."""
        with self.runtime.db.session() as session:
            started = time.perf_counter()
            action(session)
            return (time.perf_counter() - started) * 1000


@dataclass
class Bench:
    repeat: int
    plans: bool
    printed: list[str] = field(default_factory=list)

    def compare(
        self, name: str, large: tuple[Side, Action], small: tuple[Side, Action], note: str = ""
    ) -> Figure:
        """p50 of both, interleaved, after two calls of each to warm caches (and prepare statements)."""
        timed: dict[int, list[float]] = {0: [], 1: []}
        for _ in range(self.repeat + 2):
            for side, (where, action) in enumerate((large, small)):
                timed[side].append(where.call(action))
        if self.plans:
            self.show_plans(name, *large)
        return Figure(name, p50(timed[0][2:]), p50(timed[1][2:]), "ms", GOAL, note=note)

    def show_plans(self, name: str, side: Side, action: Action) -> None:
        """The plan of each statement ``action`` sends, as the database ran it."""
        engine = side.runtime.db.engine
        with recorded(engine) as sent, side.runtime.db.session() as session:
            action(session)
        for statement in sent:
            plan = explain(engine, statement, analyze=True)
            self.printed.append(f"--- {name}\n{statement.sql}\n{plan}\n")


def figures(bench: Bench, side: Side, large: Tenant, small: Tenant) -> list[Figure]:
    buckets = side.buckets

    def v3(tenant: Tenant, cursor: str | None = None, **filters: Any) -> Action:
        return lambda s: buckets.list(s, tenant.project(), PAGE, cursor, BucketFilters(**filters))

    def v2(tenant: Tenant, page_of: Callable[[int], int]) -> Action:
        """Page ``page_of(total)`` of the tenant, the total read once beforehand."""
        with side.runtime.db.session() as session:
            number = page_of(buckets.page(session, tenant.project(), 1, 1)[1])
        return lambda s: buckets.page(s, tenant.project(), number, PAGE)

    def middle(tenant: Tenant) -> str:
        with side.runtime.db.session() as session:
            cursor: str = session.execute(
                text("SELECT id FROM buckets WHERE project_id = :p ORDER BY id LIMIT 1 OFFSET :o"),
                {"p": tenant.project_id, "o": tenant.rows // 2},
            ).scalar_one()
        return cursor

    def rollup(tenant: Tenant) -> Action:
        return lambda s: buckets.usage_by_project(s, tenant.organization())

    next_to_last = lambda total: max(total // PAGE, 1)  # noqa: E731  (full, reached from the end)
    center = lambda total: max((total + PAGE - 1) // PAGE // 2, 1)  # noqa: E731
    pairs: list[tuple[str, Callable[[Tenant], Action], str]] = [
        ("v3 first page", lambda t: v3(t), ""),
        ("v3 cursor page in the middle", lambda t: v3(t, middle(t)), ""),
        ("v3 rare status (failed)", lambda t: v3(t, status="failed"), ""),
        ("v3 common status (ready)", lambda t: v3(t, status="ready"), ""),
        ("v3 rare provider", lambda t: v3(t, provider="other"), ""),
        ("v3 common provider", lambda t: v3(t, provider="local"), ""),
        ("v3 rare region", lambda t: v3(t, region="local-2"), ""),
        ("v3 superseded rows", lambda t: v3(t, superseded=True), ""),
        ("v3 current rows", lambda t: v3(t, superseded=False), ""),
        ("v2 page 1 with its total", lambda t: v2(t, lambda _: 1), ""),
        ("v2 page 5 with its total", lambda t: v2(t, lambda _: 5), "a page both sizes hold"),
        ("v2 next-to-last page with its total", lambda t: v2(t, next_to_last), "the last full page"),
        (
            "v2 middle page with its total",
            lambda t: v2(t, center),
            "OFFSET in an index: a page number far from both ends",
        ),
        ("organization usage rollup", rollup, "the organization of each project"),
    ]
    return [bench.compare(name, (side, make(large)), (side, make(small)), note) for name, make, note in pairs]


# --- the databases ------------------------------------------------------------------------------------


@contextmanager
def database(backend: str, postgres: str, path: Path) -> Iterator[str]:
    """A fresh, migrated database of ``backend`` (SQLite at ``path``), dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url
        return
    name = f"bench_lists_{secrets.token_hex(4)}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(postgres).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()


def filled(url: str, directory: Path, tenants: list[Tenant]) -> Side:
    """The service over ``url`` once the tenants' rows are in, settled as autovacuum would leave them."""
    runtime = Runtime.from_settings(Settings(data_dir=directory, database_url=url, embedded_storage=False))
    now: Any = datetime.now(UTC)
    if runtime.db.engine.dialect.name == "sqlite":  # as SQLAlchemy stores a time in SQLite
        now = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    seed_placements(runtime.db.engine, now, tenants)
    for tenant in tenants:
        insert_buckets(runtime.db.engine, now, tenant)
    settle(runtime.db.engine)
    return Side(runtime, BucketService(runtime.db, runtime.providers, ignore))


def run(backend: str, args: argparse.Namespace) -> None:
    large = Tenant("large", args.rows, parity=0, spacing=1, unreconciled=False)
    small = Tenant("small", args.small, parity=1, spacing=max(args.rows // args.small, 1), unreconciled=True)
    with (
        tempfile.TemporaryDirectory(prefix="loopback-lists-") as directory,
        database(backend, args.postgres, Path(directory) / "lists.db") as url,
        database(backend, args.postgres, Path(directory) / "alone.db") as alone_url,
    ):
        started = time.perf_counter()
        side = filled(url, Path(directory) / "data", [large, small])
        built = time.perf_counter() - started
        alone = filled(alone_url, Path(directory) / "alone", [small])  # the resync's baseline
        bench = Bench(args.repeat, args.plans)
        found = figures(bench, side, large, small)
        found.append(
            bench.compare(
                "resync (only the small project has work)",
                (side, lambda _s: side.buckets.resync()),
                (alone, lambda _s: alone.buckets.resync()),
                f"a table of {args.rows + args.small:,} rows vs one of the {args.small:,} alone",
            )
        )
        title = (
            f"{backend}: a page of {PAGE} at {args.rows:,} rows vs at {args.small:,} rows "
            f"(built in {built:.0f} s, p50 of {args.repeat})"
        )
        print_figures(title, found)
        for plan in bench.printed:
            print(plan)
        side.runtime.close()
        alone.runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="buckets of the large project")
    parser.add_argument("--small", type=int, default=1_000, help="buckets of the small project")
    parser.add_argument("--repeat", type=int, default=25, help="calls timed of each figure and size")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--plans", action="store_true", help="print each statement's plan at the large size")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        started = time.perf_counter()
        run(backend.strip(), args)
        print(f"{backend}: {time.perf_counter() - started:.0f} s in all\n", flush=True)


if __name__ == "__main__":
    main()
