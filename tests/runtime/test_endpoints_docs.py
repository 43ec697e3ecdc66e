"""The API's reference pages work with no network: every asset they load is served by the app."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from loopback.app import create_app
from loopback.runtime import Runtime

ANY_HOST = re.compile(r"https?://[^\s\"'<>]+")


class AssetLinks(HTMLParser):
    """The URLs a page makes the browser fetch: scripts, stylesheets and icons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(str(found["src"]))
        if tag == "link" and found.get("href"):
            self.urls.append(str(found["href"]))


def asset_links(html: str) -> list[str]:
    parser = AssetLinks()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize(("page", "scripts"), [("/docs", 1), ("/redoc", 1)])
def test_the_reference_pages_load_only_what_the_app_serves(runtime: Runtime, page: str, scripts: int) -> None:
    base = "http://testserver"
    with TestClient(create_app(runtime), base_url=base) as client:
        answer = client.get(page)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/html")
        html = answer.text
        # no host anywhere in the page: a CDN's, a font service's, a validator's
        assert [url for url in ANY_HOST.findall(html) if not url.startswith(base)] == []
        urls = asset_links(html)
        assert sum(url.endswith(".js") for url in urls) == scripts, urls
        for url in urls:
            assert url.startswith("/"), f"{page} loads {url} from elsewhere"
            asset = client.get(url)
            assert asset.status_code == 200, (url, asset.status_code)
            assert len(asset.content) > 100, url  # a real file, not an empty answer
        assert "/openapi.json" in html
        assert client.get("/openapi.json").status_code == 200


def test_the_swagger_ui_page_loads_swagger_ui_and_its_stylesheet(runtime: Runtime) -> None:
    with TestClient(create_app(runtime)) as client:
        urls = asset_links(client.get("/docs").text)
        script = next(url for url in urls if url.endswith(".js"))
        stylesheet = next(url for url in urls if url.endswith(".css"))
        assert "SwaggerUIBundle" in client.get(script).text[:2000]
        assert client.get(stylesheet).headers["content-type"].startswith("text/css")
        assert "/docs" not in client.get("/openapi.json").json()["paths"]  # a page, not an operation
