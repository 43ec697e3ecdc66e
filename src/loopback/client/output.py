"""How a ``loopback`` command shows an answer: Rich tables for people, the API's JSON for scripts.

A command's result goes to stdout, as Rich tables or, with ``--output json``, as the API's JSON
body verbatim; notes, warnings and errors go to stderr. Tables show values a person reads at a
glance (``-`` for none, yes/no, times to the second, sizes in binary units).
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from loopback.client.http import ApiResponse
from loopback.kit.units import binary_size

if TYPE_CHECKING:  # Rich is loaded by the first table shown, not by `loopback serve` with the commands
    from rich.console import Console

PIPE_WIDTH = 200


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


def shown(value: Any) -> str:
    """A value as a table cell: none as "-", booleans as yes/no, UTC timestamps to the second."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        utc = value.endswith(("Z", "+00:00"))
        return value[:19].replace("T", " ") + ("Z" if utc else "")
    return str(value)


def parse_time(value: str) -> datetime:
    """An API timestamp as an aware datetime; one without a zone is UTC, as the API means it."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def ago(value: Any, now: datetime | None = None) -> str:
    """A timestamp relative to now for a table: "3 minutes ago", "in 20 seconds"; a date past a month."""
    if not isinstance(value, str):
        return shown(value)
    try:
        moment = parse_time(value)
    except ValueError:
        return shown(value)
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if abs(seconds) < 5:
        return "just now"
    if abs(seconds) >= 30 * 86400:
        return moment.astimezone(UTC).strftime("%Y-%m-%d")
    amount, unit = next(
        (int(abs(seconds) // size), unit)
        for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))
        if abs(seconds) >= size
    )
    span = f"{amount} {unit}{'' if amount == 1 else 's'}"
    return f"{span} ago" if seconds > 0 else f"in {span}"


def human_bytes(value: Any) -> str:
    """A size for a table in binary units: "512 B", "1.2 MiB"; none (never measured) as "-"."""
    if not isinstance(value, int) or isinstance(value, bool):
        return shown(value)
    return binary_size(value)


@dataclass(frozen=True)
class Column:
    """One column of a table (or one line of a record): its heading and the key of the API's field.

    A narrow terminal folds long cells onto more lines; no column is ever dropped.
    """

    title: str
    key: str
    format: Callable[[Any], str] = field(default=shown)


class Printer:
    """Where a command's result goes: Rich tables for people, the API's JSON verbatim for scripts."""

    def __init__(self, output: OutputFormat) -> None:
        self.output = output

    @property
    def json(self) -> bool:
        return self.output is OutputFormat.JSON

    def _console(self) -> Console:
        # Made per use, so it writes to the stdout of this moment (a test runner swaps it). A pipe
        # or a log gets room for whole rows instead of the 80 columns Rich assumes without a TTY.
        from rich.console import Console

        console = Console(highlight=False, soft_wrap=False)
        if not console.is_terminal and "COLUMNS" not in os.environ:
            console.width = PIPE_WIDTH
        return console

    def rows(self, response: ApiResponse, key: str, columns: Sequence[Column], empty: str) -> None:
        """A list the API answered under ``key``, one row each."""
        if self.json:
            typer.echo(response.text)
            return
        self.table(response.body.get(key) or [], columns, empty)

    def table(self, items: Sequence[Mapping[str, Any]], columns: Sequence[Column], empty: str) -> None:
        if not items:
            self.note(empty)
            return
        from rich.table import Table
        from rich.text import Text

        table = Table(header_style="bold")
        for c in columns:
            table.add_column(c.title, overflow="fold", min_width=len(c.title))
        for item in items:
            table.add_row(*(Text(c.format(item.get(c.key))) for c in columns))
        self._console().print(table)

    def record(self, response: ApiResponse, columns: Sequence[Column]) -> None:
        """One object the API answered, a field a line."""
        if self.json:
            typer.echo(response.text)
            return
        self.fields(response.body, columns)

    def fields(self, item: Mapping[str, Any], columns: Sequence[Column]) -> None:
        from rich.table import Table
        from rich.text import Text

        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for c in columns:
            table.add_row(Text(c.title), Text(c.format(item.get(c.key))))
        self._console().print(table)

    def document(self, document: Mapping[str, Any]) -> None:
        """JSON this command put together (pages joined, say), in the shape of one API answer."""
        typer.echo(json.dumps(document, separators=(",", ":")))

    def note(self, text: str) -> None:
        """Something for the person reading, never for a script: on stderr."""
        typer.echo(text, err=True)
