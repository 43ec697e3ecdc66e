"""docs/alerts.yml: valid rules, each naming only metrics that a live scrape of the API exposes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from tests.conftest import BUCKETS, create_ready_bucket
from tests.metrics.test_scrape import scrape_after_a_round

ALERTS = Path(__file__).resolve().parents[2] / "docs" / "alerts.yml"
METRIC = re.compile(r"\b(loopback_[a-z_]+)")
DURATION = re.compile(r"^\d+[smhd]$")


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    assert set(document) == {"groups"}
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_rule_is_complete() -> None:
    found = rules()
    assert len(found) >= 10
    assert len({rule["alert"] for rule in found}) == len(found), "two rules share a name"
    for rule in found:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert DURATION.match(rule.get("for", "0s")), rule["alert"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]


def test_every_expression_names_a_metric_the_scrape_exposes(client: TestClient) -> None:
    bucket = create_ready_bucket(client, "alerts")
    assert client.post(f"{BUCKETS}/{bucket['id']}/credentials").status_code == 201
    exposed = scrape_after_a_round(client).names()
    named = {rule["alert"]: set(METRIC.findall(rule["expr"])) for rule in rules()}
    assert all(named.values()), "a rule names no Loopback metric"
    missing = {alert: names - exposed for alert, names in named.items() if names - exposed}
    assert missing == {}
