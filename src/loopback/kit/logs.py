"""Log lines as text (``serve``'s default) or one JSON object a line (``LOOPBACK_LOG_FORMAT=json``).

A JSON line carries the time, level, logger and message, and what is known of whom it concerns:
the request id, and the organization, project and bucket ids that the request middleware, the
scoping point and the tasks bind for the work under way. The ids are kept in one mutable mapping
per request or task, held in a context variable: a route's threads copy the context, so what a
dependency binds in one thread is seen by the log lines of the next one of the same request.
Neither format adds anything the message did not say but ids: no secret reaches either.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# Libraries whose INFO lines are each request's or call's chatter: warnings only.
NOISY = ("httpx", "botocore", "boto3", "urllib3", "huey")
# What a line may say of whom it concerns: ids only, never a name, a token or a secret.
FIELDS = ("request_id", "task", "organization_id", "project_id", "bucket_id")

_bound: ContextVar[dict[str, str] | None] = ContextVar("loopback_log_fields", default=None)


@contextmanager
def log_context(**ids: str | None) -> Iterator[dict[str, str]]:
    """A fresh set of ids for one request or task; the log lines written inside carry them."""
    fields = {name: value for name, value in ids.items() if value}
    token = _bound.set(fields)
    try:
        yield fields
    finally:
        _bound.reset(token)


def bind(**ids: str | None) -> None:
    """Add ids to the request's or task's set (outside one: nothing to add them to)."""
    fields = _bound.get()
    if fields is not None:
        fields.update({name: value for name, value in ids.items() if isinstance(value, str) and value})


def bound() -> dict[str, str]:
    """The ids bound for the work under way."""
    return dict(_bound.get() or {})


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message and the ids."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = bound()
        line.update((name, fields[name]) for name in FIELDS if name in fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


def formatter_for(log_format: str) -> logging.Formatter:
    """``json`` or ``text``: the formatter ``configure`` gives the process's handler."""
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return logging.Formatter(TEXT_FORMAT)
    raise ValueError(f"LOOPBACK_LOG_FORMAT must be text or json, not {log_format!r}")


def configure(log_format: str = "text", level: int = logging.INFO) -> None:
    """Send this process's log records to stderr in ``log_format``, replacing earlier handlers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(log_format))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
