"""What a new user met in the console (issue 12): a provider whose check failed offered first, a
failed bucket with no way out, a deleted bucket that looked full, the wrong project on sign-in, and
keys missing from a bucket's history."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from loopback.buckets.models import Bucket
from loopback.kit.clock import utcnow
from loopback.kit.ids import new_id
from loopback.providers.models import Provider
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from loopback.tenancy.models import Organization, Project
from loopback.web import listing
from loopback.web.humane import human_bytes
from tests.conftest import BUCKETS, create_ready_bucket, wait_for_status
from tests.factories import member_of
from tests.web.conftest import sign_in

PROJECT = "/console/demo/default"
PROVIDERS = "/v3/operator/providers"


def text_of(page: str) -> str:
    """A page's text as a person reads it: tags gone, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def selected(page: str, select_id: str) -> str:
    found = re.search(rf'<select id="{select_id}".*?</select>', page, re.S)
    assert found is not None, f"no select {select_id!r}"
    [value] = re.findall(r'<option value="([^"]*)"[^>]* selected', found.group(0))
    return value


def add_failing_provider(client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS) -> None:
    """Provider ``archive`` ("Archive storage", first by display name) whose last check failed."""
    response = client.post(
        PROVIDERS,
        json={
            "name": "archive",
            "family": "s3",
            "display_name": "Archive storage",
            "access_key_id": seaweedfs.identity.access_key_id,
            "secret_access_key": seaweedfs.identity.secret_access_key,
            "regions": [{"code": "arc-1", "name": "Archive one", "endpoint": seaweedfs.endpoint}],
        },
    )
    assert response.status_code == 201, response.text
    with runtime.db.session() as session:
        session.execute(
            update(Provider)
            .where(Provider.name == "archive")
            .values(last_check_at=utcnow(), last_check_error="EndpointConnectionError: refused")
        )
        session.commit()


def set_bucket(runtime: Runtime, bucket_id: str, **values: Any) -> None:
    with runtime.db.session() as session:
        session.execute(update(Bucket).where(Bucket.id == bucket_id).values(**values))
        session.commit()


# --- the create form and its provider's last check --------------------------------------------------


def test_the_create_form_preselects_a_healthy_provider_by_display_name_and_warns_of_a_failed_check(
    console: TestClient, client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    add_failing_provider(client, runtime, seaweedfs)
    assert client.get("/readyz").json()["providers"]["archive"]["status"] == "failing"
    csrf = sign_in(console)
    page = console.get(f"{PROJECT}/buckets/new").text
    assert selected(page, "provider") == "local"  # not "archive", first in the picker's order
    assert selected(page, "region") == "local-1"
    shown = text_of(page)
    assert "Local (embedded SeaweedFS) (local)" in shown  # what a person reads, and the name to type
    assert "Archive storage (archive) — last check failed" in shown
    assert "The last check of provider 'Archive storage' failed" in shown  # shown when chosen

    def check(provider: str, region: str) -> dict[str, Any]:
        answer = console.post(
            "/console/_api/demo/default/buckets/check",
            data={"csrf": csrf, "name": "fresh-name", "provider": provider, "region": region},
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    healthy = check("local", "local-1")
    assert healthy["valid"]
    assert healthy["endpoint"]
    assert healthy["warning"] is None
    broken = check("archive", "arc-1")
    assert broken["valid"]
    assert broken["endpoint"] is None  # no endpoint promised at a broken provider
    assert "last check of provider 'Archive storage' failed" in broken["warning"]


def test_when_every_provider_failed_its_check_the_form_still_offers_one(
    console: TestClient, client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    add_failing_provider(client, runtime, seaweedfs)
    with runtime.db.session() as session:
        session.execute(update(Provider).values(last_check_at=utcnow(), last_check_error="refused"))
        session.commit()
    sign_in(console)
    page = console.get(f"{PROJECT}/buckets/new").text
    assert selected(page, "provider") == "archive"  # the picker's first: nothing better to offer


# --- a failed or lost bucket is replaced from its page ----------------------------------------------


def test_a_failed_bucket_says_why_in_words_and_is_replaced_from_its_page(
    console: TestClient, client: TestClient, runtime: Runtime
) -> None:
    bucket = create_ready_bucket(client, "failed")
    set_bucket(runtime, bucket["id"], status="failed", status_reason="the provider refused the name")
    csrf = sign_in(console)
    location = f"{PROJECT}/buckets/{bucket['id']}"
    page = console.get(location).text
    assert "This bucket failed: the provider refused the name" in text_of(page)
    assert "This bucket is failed" not in page
    assert selected(page, "placement") == "local/local-1"  # by default, where it was
    assert 'action="' + location + '/replace"' in page

    replaced = console.post(
        f"{location}/replace", data={"csrf": csrf, "placement": "local/local-1"}, follow_redirects=False
    )
    assert replaced.status_code == 303, replaced.text
    new_id_ = replaced.headers["location"].rsplit("/", 1)[1]
    assert new_id_ != bucket["id"]
    assert wait_for_status(client, new_id_, "ready", "failed")["status"] == "ready"
    assert client.get(f"{BUCKETS}/{bucket['id']}").json()["superseded_by"] == new_id_
    old_page = console.get(location).text
    assert "This bucket was replaced by" in text_of(old_page)
    assert 'name="placement"' not in old_page  # replaced once: no second replacement offered
    assert "replaces" in text_of(console.get(replaced.headers["location"]).text)


def test_a_lost_bucket_offers_replace_and_a_viewer_gets_no_such_form(
    console: TestClient, client: TestClient, runtime: Runtime
) -> None:
    bucket = create_ready_bucket(client, "lost")
    set_bucket(runtime, bucket["id"], status="lost", status_reason="it is gone at the provider")
    location = f"{PROJECT}/buckets/{bucket['id']}"
    sign_in(console)
    page = console.get(location).text
    assert "This bucket vanished at the provider: it is gone at the provider" in text_of(page)
    assert "Replace bucket" in page

    viewer = member_of(runtime, "viewer")["Authorization"].removeprefix("Bearer ")
    console.cookies.clear()
    csrf = sign_in(console, viewer)
    page = console.get(location).text
    assert "This bucket vanished at the provider" in text_of(page)
    assert "Replace bucket" not in page
    refused = console.post(f"{location}/replace", data={"csrf": csrf})
    assert refused.status_code == 403


# --- a deleted bucket shows no usage, endpoint or snippets ------------------------------------------


def test_a_deleted_bucket_shows_no_usage_endpoint_or_connect_snippets(
    console: TestClient, client: TestClient, runtime: Runtime
) -> None:
    bucket = create_ready_bucket(client, "gone")
    assert client.delete(f"{BUCKETS}/{bucket['id']}").status_code == 202
    wait_for_status(client, bucket["id"], "deleted")
    set_bucket(runtime, bucket["id"], object_count=7, bytes=123_456)  # the last count it had
    sign_in(console)
    page = console.get(f"{PROJECT}/buckets/{bucket['id']}").text
    assert "This bucket was deleted" in page
    for gone in ('id="usage"', 'id="connect"', 'id="endpoint"', "aws s3", human_bytes(123_456)):
        assert gone not in page, gone
    listed = console.get(f"{PROJECT}?deleted=1").text
    row = re.search(rf'<tr data-bucket="{bucket["id"]}">.*?</tr>', listed, re.S)
    assert row is not None
    assert human_bytes(123_456) not in row.group(0)
    assert ">7<" not in row.group(0)
    assert "deleted: it holds nothing" in row.group(0)


# --- where the console opens after sign-in ----------------------------------------------------------


def test_sign_in_opens_the_project_holding_buckets_then_the_one_last_opened(
    console: TestClient, client: TestClient, runtime: Runtime
) -> None:
    with runtime.db.session() as session:
        demo = session.scalars(select(Organization).where(Organization.slug == "demo")).one()
        session.add(Project(id=new_id("prj"), organization_id=demo.id, slug="aardvark", name="Aardvark"))
        session.commit()
    sign_in(console)
    # no bucket anywhere: the first project, as before
    assert console.get("/console", follow_redirects=False).headers["location"] == "/console/demo/aardvark"
    create_ready_bucket(client, "home")
    console.cookies.clear()
    sign_in(console)
    assert console.get("/console", follow_redirects=False).headers["location"] == PROJECT
    assert console.get("/console/demo/aardvark").status_code == 200  # opened last now
    assert console.get("/console", follow_redirects=False).headers["location"] == "/console/demo/aardvark"
    console.cookies.set("loopback_console_last", "elsewhere/secret", path="/console")  # not reachable
    assert console.get("/console", follow_redirects=False).headers["location"] == PROJECT


# --- a key's issue and revocation are in its bucket's events ----------------------------------------


def test_a_keys_issue_and_revocation_show_in_the_buckets_events_newest_first(
    console: TestClient, client: TestClient
) -> None:
    bucket = create_ready_bucket(client, "keyevents")
    csrf = sign_in(console)
    location = f"{PROJECT}/buckets/{bucket['id']}"
    console.post(f"{location}/credentials", data={"csrf": csrf, "name": "backup"})
    [key] = client.get(f"{BUCKETS}/{bucket['id']}/credentials").json()["credentials"]
    revoked = console.post(f"{location}/credentials/{key['id']}/revoke", data={"csrf": csrf})
    assert revoked.status_code == 200

    page = console.get(location).text
    table = re.search(r'<section class="card" id="events".*?</section>', page, re.S)
    assert table is not None
    rows = [text_of(row).strip() for row in re.findall(r"<tr>(.*?)</tr>", table.group(0), re.S)[1:]]
    named = f"{key['access_key_id']} (backup)"
    assert rows[0].endswith(named), rows
    assert "credential-revoked" in rows[0], rows  # the bucket's own event: no second row from the key
    assert rows[1].endswith(named), rows
    assert "key-issued" in rows[1], rows
    assert any("created" in row for row in rows[2:]), rows


# --- the bucket list: search, sort, totals, all without a script -----------------------------------


def listed_names(page: str) -> list[str]:
    return re.findall(r'<tr data-bucket="[^"]+">\s*<th scope="row"><a [^>]+>([^<]+)</a>', page)


def test_the_list_searches_sorts_and_totals_with_query_parameters_alone(
    console: TestClient, client: TestClient, runtime: Runtime
) -> None:
    made = [create_ready_bucket(client, prefix) for prefix in ("cherry", "apple", "banana")]
    by_prefix = {bucket["name"].split("-")[0]: bucket for bucket in made}
    set_bucket(runtime, by_prefix["cherry"]["id"], object_count=3, bytes=3 * 1024)
    set_bucket(runtime, by_prefix["apple"]["id"], object_count=1, bytes=10 * 1024 * 1024)
    set_bucket(runtime, by_prefix["banana"]["id"], object_count=0, bytes=0)
    gone = create_ready_bucket(client, "deleted")
    assert client.delete(f"{BUCKETS}/{gone['id']}").status_code == 202
    wait_for_status(client, gone["id"], "deleted")
    set_bucket(runtime, gone["id"], object_count=99, bytes=99 * 1024**2)  # counts for nothing
    sign_in(console)

    def names(query: str) -> list[str]:
        page = console.get(f"{PROJECT}{query}")
        assert page.status_code == 200, page.text
        return [name.split("-")[0] for name in listed_names(page.text)]

    assert names("") == ["cherry", "apple", "banana"]  # by creation, oldest first
    assert names("?sort=name") == ["apple", "banana", "cherry"]
    assert names("?sort=name&order=desc") == ["cherry", "banana", "apple"]
    assert names("?sort=size&order=desc") == ["apple", "cherry", "banana"]
    assert names("?sort=created&order=desc") == ["banana", "apple", "cherry"]
    assert names("?q=AN") == ["banana"]  # names are lowercase: so is the search
    assert names("?sort=status&deleted=1")[0] == "deleted"  # "deleted" before "ready"
    assert names("?sort=bogus&order=sideways") == ["cherry", "apple", "banana"]  # the defaults

    page = console.get(f"{PROJECT}?q=an").text
    totals = re.search(r'<p class="totals" id="totals">(.*?)</p>', page, re.S)
    assert totals is not None  # the project's, whatever the search shows
    assert text_of(totals.group(1)).split() == ["3", "buckets", "·", "4", "objects", "·", "10.0", "MiB"]
    assert "1 bucket named like “an”" in text_of(page)
    # the column headers are links that keep the search and turn the order around
    assert 'href="?q=an&amp;sort=name"' in page
    sorted_page = console.get(f"{PROJECT}?q=an&sort=name").text
    assert 'aria-sort="ascending"' in sorted_page
    assert 'href="?q=an&amp;sort=name&amp;order=desc"' in sorted_page
    assert "No bucket named like “zzz”" in text_of(console.get(f"{PROJECT}?q=zzz").text)


def test_the_list_pages_through_what_it_sorted(
    console: TestClient, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for prefix in ("one", "two", "three"):
        create_ready_bucket(client, prefix)
    sign_in(console)
    monkeypatch.setattr(listing, "LIST_PAGE_SIZE", 2)  # two a page
    first = console.get(f"{PROJECT}?sort=name").text
    assert [n.split("-")[0] for n in listed_names(first)] == ["one", "three"]
    assert 'href="?sort=name&amp;page=2"' in first
    second = console.get(f"{PROJECT}?sort=name&page=2").text
    assert [n.split("-")[0] for n in listed_names(second)] == ["two"]
    assert "Next page" not in second
    assert 'href="?sort=name"' in second  # the previous page
