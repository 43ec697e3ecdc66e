"""What the database plans for the statements a block of code runs.

For the tests and ``benchmarks/lists.py``, which call the product's own code and then ask the
database how it runs each statement (PostgreSQL's EXPLAIN, SQLite's EXPLAIN QUERY PLAN), so that
"this list reads an index" is proven on the query the product sends rather than on a copy of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event


@dataclass(frozen=True)
class Sent:
    """One statement as the driver received it, with its parameters."""

    sql: str
    parameters: Any


@contextmanager
def recorded(engine: Engine) -> Iterator[list[Sent]]:
    """Every statement ``engine`` sends inside the block, in order."""
    sent: list[Sent] = []

    def record(_conn: Any, _cursor: Any, sql: str, parameters: Any, _context: Any, _many: bool) -> None:
        sent.append(Sent(sql, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def explain(engine: Engine, statement: Sent, *, analyze: bool = False, no_seqscan: bool = False) -> str:
    """The plan of ``statement``, one node a line; ``analyze`` runs it (PostgreSQL), ``no_seqscan``
    makes PostgreSQL show the index it would use on a table too small to bother with one."""
    postgresql = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN QUERY PLAN "
    if postgresql:
        prefix = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
    with engine.connect() as connection:
        if postgresql and no_seqscan:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = connection.exec_driver_sql(prefix + statement.sql, statement.parameters).all()
        connection.rollback()
    if postgresql:
        return "\n".join(str(row[0]) for row in rows)
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _unused, detail in rows:  # SQLite: a tree by parent ids
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + str(detail))
    return "\n".join(lines)
