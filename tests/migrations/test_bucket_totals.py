"""Upgrading a database with buckets from before the totals (migration 0010): each project's totals
are counted from the rows it has, the triggers keep them from there, and a downgrade and upgrade
count them again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection, create_engine, text

from loopback.kit.settings import Settings
from loopback.migrations import alembic_config, upgrade
from tests.migrations.test_grants import NOW, insert_bucket, insert_placement

# (id, project, status, object_count, bytes, superseded_by_id, deleted_at)
ROWS = [
    ("bkt_1", "prj_a", "ready", 3, 300, None, None),
    ("bkt_2", "prj_a", "ready", None, None, None, None),  # never synced
    ("bkt_3", "prj_a", "ready", 5, 500, "bkt_2", None),  # replaced: live, not in v2's list
    ("bkt_4", "prj_a", "deleted", 7, 700, None, NOW),  # deleted: in v2's list, not live
    ("bkt_5", "prj_b", "pending", None, None, None, None),
]
# project: (current rows, live buckets, objects, bytes)
EXPECTED = {"prj_a": (3, 3, 8, 800), "prj_b": (1, 1, 0, 0)}


def totals(connection: Connection) -> dict[str, tuple[int, ...]]:
    rows = connection.execute(
        text("SELECT project_id, current_rows, live_buckets, object_count, bytes FROM bucket_totals")
    )
    return {project: tuple(int(n) for n in numbers) for project, *numbers in rows}


def test_existing_rows_get_their_projects_totals_and_the_triggers_keep_them(settings: Settings) -> None:
    url = settings.resolved_database_url
    upgrade(url, "0009")
    engine = create_engine(url)
    with engine.begin() as connection:
        insert_placement(connection, engine, projects=("prj_a", "prj_b", "prj_empty"))
        for bucket_id, project, status, objects, size, superseded_by, deleted_at in ROWS:
            insert_bucket(
                connection,
                engine,
                bucket_id,
                project,
                status=status,
                object_count=objects,
                bytes=size,
                superseded_by_id=superseded_by,
                deleted_at=deleted_at,
            )
    upgrade(url, "0010")
    with engine.begin() as connection:
        assert totals(connection) == EXPECTED  # a project without buckets has no row: zero
        connection.execute(text("UPDATE buckets SET bytes = 1000, object_count = 4 WHERE id = 'bkt_1'"))
    with engine.connect() as connection:
        assert totals(connection)["prj_a"] == (3, 3, 9, 1500)
    command.downgrade(alembic_config(url), "0009")
    upgrade(url, "0010")  # counted again, from the rows as they are now
    with engine.connect() as connection:
        assert totals(connection) == {**EXPECTED, "prj_a": (3, 3, 9, 1500)}
    upgrade(url)
    engine.dispose()
