"""Every list reads the index made for it, on SQLite and on PostgreSQL: dropping one fails here.

The database is asked how it runs the statements ``BucketService`` itself sent (``kit.plans``),
over a project of 3,000 rows beside another's 3,000, in which each rare kind (a status, a provider,
a region, superseded rows, rows the resync must re-enqueue, rows linked to an install) is a
handful. No plan may sort the project's rows or scan the table, and each rare filter must seek its
own index: at a million rows anything else is a scan.
PostgreSQL is told not to scan tables (``enable_seqscan``), which a table this small would invite,
and has vacuumed it, as autovacuum would, so that it may read an index alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from loopback.buckets.models import INSTALL_LENGTHS, Bucket
from loopback.buckets.service import BucketFilters, BucketService, InstallLink
from loopback.kit.clock import utcnow
from loopback.kit.ids import new_id
from loopback.kit.plans import explain, recorded
from loopback.providers.models import Provider, Region
from loopback.runtime import Runtime
from loopback.tenancy.access import ProjectScope
from loopback.tenancy.models import Project
from tests.buckets.fakes import RecordingQueue, buckets_with
from tests.conftest import operator_scope
from tests.factories import organization

ROWS = 3000
RARE = 500  # every RARE-th row is of each rare kind: six of each
LINK = {part: f"plan-{part}" for part in INSTALL_LENGTHS}  # the install link of the rare linked rows
SORTS = ("Sort", "TEMP B-TREE")  # PostgreSQL's sort node, SQLite's
SCANS = ("Seq Scan on buckets", "SCAN buckets\n")  # a SQLite scan through an index says USING INDEX

Call = Callable[[Session, BucketService, ProjectScope], object]

# what the service is asked, and the index its statement on buckets must read (None: any of the
# project's, as long as nothing is sorted or scanned)
SHAPES: dict[str, tuple[Call, str | None]] = {
    "first page": (lambda s, b, p: b.list(s, p, 100, None, BucketFilters()), None),
    "cursor page": (lambda s, b, p: b.list(s, p, 100, "bkt_003000", BucketFilters()), None),
    "rare status": (
        lambda s, b, p: b.list(s, p, 100, None, BucketFilters(status="failed")),
        "ix_buckets_project_id_status",
    ),
    "rare provider": (
        lambda s, b, p: b.list(s, p, 100, None, BucketFilters(provider="rare")),
        "ix_buckets_project_id_provider_id",
    ),
    "rare region": (
        lambda s, b, p: b.list(s, p, 100, None, BucketFilters(region="local-2")),
        "ix_buckets_project_id_region_id",
    ),
    "superseded rows": (
        lambda s, b, p: b.list(s, p, 100, None, BucketFilters(superseded=True)),
        "ix_buckets_superseded",
    ),
    **{
        f"install {part}": (
            lambda s, b, p, part=part: b.list(
                s, p, 100, None, BucketFilters(install=InstallLink(**{part: LINK[part]}))
            ),
            f"ix_buckets_install_{part}",
        )
        for part in INSTALL_LENGTHS
    },
    "v2 page in the middle": (lambda s, b, p: b.page(s, p, 10, 100), "ix_buckets_current"),
    "organization rollup": (lambda s, b, p: b.usage_by_project(s, p), "ix_buckets_live_sync"),
    "resync": (lambda s, b, p: b.resync(), "ix_buckets_unreconciled"),
}
# Skipping to a v2 page walks rows in id order either way: PostgreSQL walks the primary key instead
# of ix_buckets_current when the project holds much of the table (here half), where the two cost
# alike; SQLite always reads the index, so dropping it still fails here.
MAY_WALK_THE_KEY = {"v2 page in the middle"}  # on PostgreSQL


def kind(n: int) -> int:
    """0 for a plain row, else which rare kind row ``n`` is."""
    return n % RARE if n % RARE <= 6 else 0


def seed(runtime: Runtime, scope: ProjectScope) -> None:
    """The project's rows by bulk insert, with a provider and a region that few of them use."""
    now = utcnow()
    with runtime.db.session() as session:
        local = session.query(Provider).filter_by(name="local").one()
        rare = Provider(id=new_id("prv"), name="rare", family="s3", display_name="Rare")
        session.add(rare)
        session.flush()
        regions = {
            "local": session.query(Region).filter_by(provider_id=local.id).one().id,
            "local-2": new_id("reg"),
            "rare": new_id("reg"),
        }
        for code, provider in (("local-2", local.id), ("rare", rare.id)):
            session.add(
                Region(id=regions[code], provider_id=provider, code=code, name=code, endpoint="http://x")
            )
        session.flush()
        other = organization(session, "other")
        others = (other.id, session.query(Project.id).filter_by(organization_id=other.id).scalar())
        owners = [(scope.organization_id, scope.project_id), others]
        rows = [
            {
                "id": f"bkt_{2 * n + side:06d}",  # the two projects' rows interleaved in time
                "organization_id": owners[side][0],
                "project_id": owners[side][1],
                "name": f"plan-{side}-{n}",
                "provider_id": rare.id if kind(n) == 2 else local.id,
                "region_id": regions["rare" if kind(n) == 2 else "local-2" if kind(n) == 3 else "local"],
                "status": "failed" if kind(n) == 1 else "ready",
                "generation": 2 if kind(n) == 5 else 1,
                "observed_generation": 1,
                "superseded_by_id": "bkt_replacement" if kind(n) == 4 else None,
                "last_synced_at": now,
                "bytes": n,
                **{f"install_{part}": value if kind(n) == 6 else None for part, value in LINK.items()},
            }
            for n in range(ROWS)
            for side in (0, 1)
        ]
        session.execute(insert(Bucket), rows)
    if runtime.db.engine.dialect.name == "postgresql":  # what autovacuum soon does after a bulk insert
        with runtime.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE buckets"))


def misreads(runtime: Runtime, buckets: BucketService, call: Call, wanted: str | None) -> list[str]:
    """What is wrong with how the database runs the statements ``call`` sends to buckets: a sort,
    a scan of the table, or none of them reading ``wanted``."""
    engine = runtime.db.engine
    with recorded(engine) as sent, runtime.db.session() as session:
        call(session, buckets, operator_scope(session))
    plans = [  # not those of the operator's providers and regions, nor of the maintained totals
        explain(engine, statement, no_seqscan=True) + "\n"
        for statement in sent
        if "buckets" in statement.sql.replace("bucket_totals", "")
    ]
    wrong = [f"{found}: {plan}" for plan in plans for found in (*SORTS, *SCANS) if found in plan]
    if wanted is not None and not any(wanted in plan for plan in plans):
        wrong.append(f"none reads {wanted}: {plans}")
    return wrong


@pytest.fixture
def seeded(runtime: Runtime) -> BucketService:
    with runtime.db.session() as session:
        seed(runtime, operator_scope(session))
    return buckets_with(runtime, RecordingQueue())


def test_each_list_reads_its_index_and_sorts_nothing(runtime: Runtime, seeded: BucketService) -> None:
    with runtime.db.session() as session:  # the rows are what the plans are asked about
        scope = operator_scope(session)
        found: dict[str, Any] = {name: call(session, seeded, scope) for name, (call, _) in SHAPES.items()}
    assert len(found["first page"][0]) == 100
    for name in ("rare status", "rare provider", "rare region", "superseded rows", "install release"):
        assert len(found[name][0]) == ROWS // RARE, name
    assert found["v2 page in the middle"][1] == ROWS - ROWS // RARE
    assert found["resync"] == 2 * ROWS // RARE  # the other project's too
    postgresql = runtime.db.engine.dialect.name == "postgresql"
    wrong = {
        shape: misreads(runtime, seeded, call, None if postgresql and shape in MAY_WALK_THE_KEY else wanted)
        for shape, (call, wanted) in SHAPES.items()
    }
    assert {shape: found for shape, found in wrong.items() if found} == {}


def test_the_check_fails_when_an_index_is_gone(runtime: Runtime, seeded: BucketService) -> None:
    """The guard itself can fail: without its index, the rare status is a walk of the project."""
    with runtime.db.engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_buckets_project_id_status"))
    call, wanted = SHAPES["rare status"]
    assert misreads(runtime, seeded, call, wanted) != []
