"""``LOOPBACK_LOG_FORMAT=json``: one JSON object a line, carrying the request's and the task's ids.

The API over ASGI and the worker threads write through a handler with the JSON formatter, as a
process configured by ``kit.logs.configure`` does; a line of the request that issues a key and a
line of the reconcile of its bucket are read back and must name whom they concern.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from loopback.kit.logs import JsonFormatter, formatter_for, log_context
from loopback.runtime import Runtime
from tests.conftest import BUCKETS, create_ready_bucket

KEYS = ("time", "level", "logger", "message")


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the process logs at INFO and above, as the JSON formatter writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = [line for line in stream.getvalue().splitlines() if line]
    return [json.loads(line) for line in lines]  # each line one object, or this fails


def test_request_and_task_lines_carry_their_ids(
    client: TestClient, runtime: Runtime, json_lines: io.StringIO
) -> None:
    bucket = create_ready_bucket(client, "logs")
    issued = client.post(f"{BUCKETS}/{bucket['id']}/credentials", headers={"X-Request-ID": "req-logs-0001"})
    assert issued.status_code == 201
    lines = parsed(json_lines)
    assert lines
    assert all(set(KEYS) <= set(line) for line in lines)
    issue = next(line for line in lines if line["message"].startswith("issued credential"))
    assert issue["request_id"] == "req-logs-0001"
    assert issue["bucket_id"] == bucket["id"]
    assert issue["organization_id"].startswith("org_")
    assert issue["project_id"].startswith("prj_")
    claimed = next(
        line for line in lines if "claimed generation" in line["message"] and bucket["id"] in line["message"]
    )
    assert claimed["task"] == "bucket.reconcile"
    assert claimed["bucket_id"] == bucket["id"]
    assert (claimed["organization_id"], claimed["project_id"]) == (
        issue["organization_id"],
        issue["project_id"],
    )
    assert "request_id" not in claimed  # the task runs in a worker thread, outside any request


def test_a_line_outside_any_request_or_task_has_no_ids_and_an_exception_stays_on_its_line() -> None:
    formatter = formatter_for("json")
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        record = logging.LogRecord(
            "loopback.test", logging.ERROR, __file__, 1, "failed: %s", ("x",), sys.exc_info()
        )
    line = formatter.format(record)
    assert "\n" not in line
    body = json.loads(line)
    assert (body["level"], body["logger"], body["message"]) == ("ERROR", "loopback.test", "failed: x")
    assert "RuntimeError: boom" in body["exception"]
    assert not {"request_id", "task", "organization_id", "project_id", "bucket_id"} & set(body)
    with log_context(task="t.one", bucket_id="bkt_1"):
        assert json.loads(formatter.format(record))["bucket_id"] == "bkt_1"


def test_text_stays_the_default_and_an_unknown_format_is_refused() -> None:
    from loopback.kit.settings import Settings

    assert Settings().log_format == "text"
    assert not isinstance(formatter_for("text"), JsonFormatter)
    with pytest.raises(ValueError, match="text or json"):
        formatter_for("xml")
