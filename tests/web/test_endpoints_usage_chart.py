"""The project page's usage chart (issue 12): a bar per live bucket drawn on the server, as long as
its bytes (or objects) against the longest, deleted and replaced rows left out, a bounded number of
bars, and no statement more for the page however many buckets it draws."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from loopback.runtime import Runtime
from loopback.web import usage_chart
from loopback.web.humane import human_bytes
from tests.conftest import BUCKETS, create_ready_bucket, wait_for_status
from tests.web.conftest import sign_in
from tests.web.test_endpoints_keys import counted
from tests.web.test_endpoints_newcomer import set_bucket, text_of

PROJECT = "/console/demo/default"


@dataclass(frozen=True)
class Drawn:
    """One row of the chart as the page draws it."""

    bucket_id: str
    name: str
    label: str  # what a person (and a screen reader) reads beside the bar
    width: float | None  # the bar's length in percent of the longest; None: no bar


def chart_of(page: str) -> str:
    found = re.search(r'<section class="card usage-chart" id="usage".*?</section>', page, re.S)
    assert found is not None, "the page draws no usage chart"
    return found.group(0)


def drawn(page: str) -> list[Drawn]:
    rows = []
    for bucket_id, row in re.findall(r'<li data-chart-bucket="([^"]+)">(.*?)</li>', chart_of(page), re.S):
        name = re.search(r'class="bar-name"[^>]*>([^<]+)</a>', row)
        label = re.search(r'<span class="bar-value[^"]*">(.*?)</span>\s*(?:<svg|$)', row, re.S)
        width = re.search(r'<rect class="bar-fill" width="([\d.]+)"', row)
        assert name is not None, row
        assert label is not None, row
        rows.append(
            Drawn(
                bucket_id,
                html.unescape(name.group(1)),
                text_of(label.group(1)).strip(),
                float(width.group(1)) if width else None,
            )
        )
    return rows


def prefixes(rows: list[Drawn]) -> list[str]:
    return [row.name.split("-")[0] for row in rows]


def synced_bytes(client: TestClient, bucket_id: str) -> int:
    usage: dict[str, Any] = client.get(f"{BUCKETS}/{bucket_id}").json()["usage"]
    assert usage["bytes"] is not None, usage
    size: int = usage["bytes"]
    return size


def test_bars_are_as_long_as_the_synced_bytes_largest_first_without_deleted_or_replaced_rows(
    console: TestClient, client: TestClient, runtime: Runtime, operator_s3: Any
) -> None:
    made = {p: create_ready_bucket(client, p) for p in ("small", "large", "middle", "gone", "replaced")}
    for prefix, size in (("small", 25_000), ("large", 100_000), ("middle", 50_000), ("gone", 400_000)):
        operator_s3.put_object(Bucket=made[prefix]["name"], Key="blob", Body=b"x" * size)
        runtime.buckets.sync_usage(made[prefix]["id"])  # the usage round's own step
    sizes = {p: synced_bytes(client, made[p]["id"]) for p in ("small", "large", "middle")}
    assert sizes == {"small": 25_000, "large": 100_000, "middle": 50_000}

    gone = made["gone"]["id"]
    assert client.delete(f"{BUCKETS}/{gone}", params={"force": "true"}).status_code == 202
    wait_for_status(client, gone, "deleted")
    set_bucket(runtime, gone, object_count=1, bytes=400_000)  # the last count it had
    old = made["replaced"]["id"]
    set_bucket(runtime, old, status="failed", status_reason="refused", object_count=8, bytes=800_000)
    replaced = client.post(f"{BUCKETS}/{old}/replace", json={})
    assert replaced.status_code == 202, replaced.text
    new = wait_for_status(client, replaced.json()["id"], "ready")["id"]
    set_bucket(runtime, new, object_count=None, bytes=None, last_synced_at=None)  # before its first sync

    sign_in(console)
    rows = drawn(console.get(PROJECT).text)
    assert prefixes(rows) == ["large", "middle", "small", "replaced"]
    assert {row.bucket_id for row in rows}.isdisjoint({gone, old})
    by_prefix = dict(zip(prefixes(rows), rows, strict=True))
    for prefix, size in sizes.items():  # against the largest drawn: 400 and 800 kB count for nothing
        assert by_prefix[prefix].width == pytest.approx(100 * size / sizes["large"], abs=0.01)
        assert by_prefix[prefix].label == human_bytes(size)
    assert by_prefix["replaced"].bucket_id == new
    assert by_prefix["replaced"].width is None  # no zero bar: not measured yet
    assert by_prefix["replaced"].label == "not measured yet"
    assert "Size of each bucket, largest first" in text_of(chart_of(console.get(PROJECT).text))


def test_the_objects_chart_orders_by_count_and_the_lists_links_keep_the_choice(
    console: TestClient, client: TestClient, runtime: Runtime
) -> None:
    made = {p: create_ready_bucket(client, p) for p in ("few", "many", "some", "empty")}
    for prefix, count, size in (("few", 10, 1024**2), ("many", 40, 100 * 1024), ("some", 20, 4 * 1024**2)):
        set_bucket(runtime, made[prefix]["id"], object_count=count, bytes=size)
    set_bucket(runtime, made["empty"]["id"], object_count=0, bytes=0)
    sign_in(console)

    by_size = console.get(PROJECT).text
    assert prefixes(drawn(by_size)) == ["some", "few", "many", "empty"]
    assert 'href="?chart=objects#usage"' in chart_of(by_size)  # the switch is a plain link

    by_objects = console.get(f"{PROJECT}?chart=objects").text
    rows = drawn(by_objects)
    assert prefixes(rows) == ["many", "some", "few", "empty"]
    assert [row.width for row in rows] == [100, 50, 25, 0]  # an empty bucket: an empty track
    assert [row.label for row in rows] == ["40 objects", "20 objects", "10 objects", "0 objects"]
    assert 'aria-current="true">Objects</span>' in by_objects
    assert 'href="?sort=name&amp;chart=objects"' in by_objects  # sorting the list keeps the chart
    assert '<input type="hidden" name="chart" value="objects">' in by_objects  # and so does a search
    assert prefixes(drawn(console.get(f"{PROJECT}?chart=bogus").text))[0] == "some"  # the default


def test_a_large_project_draws_its_largest_buckets_and_says_how_many_more(
    console: TestClient, client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = [create_ready_bucket(client, p) for p in ("one", "two", "three", "unsynced")]
    for bucket, size in zip(made, (1024, 2048, 3072), strict=False):
        set_bucket(runtime, bucket["id"], object_count=1, bytes=size)
    monkeypatch.setattr(usage_chart, "CHART_LIMIT", 2)
    sign_in(console)
    chart = chart_of(console.get(PROJECT).text)
    assert [row.name.split("-")[0] for row in drawn(chart)] == ["three", "two"]
    assert "Size of each bucket, largest first: the first 2 of 4." in text_of(chart)
    assert "2 more buckets not shown. The list sorted by size has every one." in text_of(chart)
    assert 'href="?sort=size&amp;order=desc"' in chart


def test_no_live_bucket_no_chart(console: TestClient, client: TestClient) -> None:
    bucket = create_ready_bucket(client, "only")
    assert client.delete(f"{BUCKETS}/{bucket['id']}").status_code == 202
    wait_for_status(client, bucket["id"], "deleted")
    sign_in(console)
    assert 'id="usage"' not in console.get(PROJECT).text
    assert 'id="usage"' not in console.get(f"{PROJECT}?deleted=1").text


def test_the_chart_costs_the_page_no_statement_however_many_buckets_it_draws(
    console: TestClient, client: TestClient, runtime: Runtime
) -> None:
    sign_in(console)
    app = console.app
    assert isinstance(app, FastAPI)
    app.state.access_cache.ttl = 300  # on a loaded machine a request can outlast the usual 1 s

    def cost() -> list[str]:
        console.get(PROJECT)  # warm: the first request of a session reads more
        with counted(runtime) as statements:
            page = console.get(PROJECT)
        assert page.status_code == 200
        return statements

    first = create_ready_bucket(client, "first")
    set_bucket(runtime, first["id"], object_count=1, bytes=1024)
    one = cost()
    for index, prefix in enumerate(("second", "third", "fourth")):
        bucket = create_ready_bucket(client, prefix)
        set_bucket(runtime, bucket["id"], object_count=index, bytes=2048 * (index + 1))
    assert len(drawn(console.get(PROJECT).text)) == 4
    many = cost()
    assert len(many) == len(one), "\n".join(many)
    assert len(one) <= 3, "\n".join(one)  # the token, the header's projects, the buckets
