"""The console and a bucket's install link (issue 13): the bucket page shows each part of it, and
the list marks a linked bucket with its release and narrows to one release, as plain links."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import BUCKETS, unique_bucket_name
from tests.web.conftest import sign_in

PROJECT = "/console/demo/default"
LINK = {"catalog_item": "postgres-operator", "release": "shop-db", "cluster": "prod-eu", "claim": "backups"}


def create(client: TestClient, install: dict[str, str] | None = None) -> str:
    body = {"name": unique_bucket_name("web"), "provider": "local", "region": "local-1", "install": install}
    created = client.post(BUCKETS, json=body)
    assert created.status_code == 202, created.text
    bucket_id: str = created.json()["id"]
    return bucket_id


def rows(page: str) -> list[str]:
    """The bucket ids of a list page, in order."""
    return [part.split('"', 1)[0] for part in page.split('data-bucket="')[1:]]


def test_the_bucket_page_shows_the_install_link(console: TestClient, client: TestClient) -> None:
    linked, plain = create(client, LINK), create(client)
    sign_in(console)
    page = console.get(f"{PROJECT}/buckets/{linked}").text
    for part, value in LINK.items():
        assert f'<dd id="install-{part}">' in page
        assert f"<code>{value}</code>" in page
    assert "<dt>Install catalog item</dt>" in page
    assert "install-namespace" not in page  # a part the link does not name is not shown
    assert f'href="{PROJECT}?release=shop-db"' in page
    assert "Install" not in console.get(f"{PROJECT}/buckets/{plain}").text.split("<dt>Created</dt>")[0]


def test_the_list_narrows_to_one_release_by_its_links(console: TestClient, client: TestClient) -> None:
    linked = create(client, LINK)
    other = create(client, {"release": "web-cache"})
    plain = create(client)
    sign_in(console)
    everything = console.get(PROJECT).text
    assert rows(everything) == [linked, other, plain]
    assert 'href="?release=shop-db"' in everything  # the release under the name narrows to it

    narrowed = console.get(PROJECT, params={"release": "shop-db"}).text
    assert rows(narrowed) == [linked]
    assert "1 bucket of install release “shop-db”" in narrowed
    assert 'name="release" value="shop-db"' in narrowed  # searching keeps the release

    none = console.get(PROJECT, params={"release": "nobody"}).text
    assert rows(none) == []
    assert "No bucket of install release “nobody”" in none
    assert console.get(PROJECT, params={"release": "r" * 254}).status_code == 422
