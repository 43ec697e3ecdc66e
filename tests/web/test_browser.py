"""A real browser drives the console over real HTTP: Debian's Chromium through Playwright.

Skipped when /usr/bin/chromium is absent, unless ``LOOPBACK_TEST_REQUIRE_BROWSER=1`` (CI sets it),
which turns the absence into a failure. These test the console, not the database: SQLite only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Frame, Page, expect, sync_playwright

from loopback.app import create_app
from loopback.runtime import Runtime
from loopback.web.following import NO_SCRIPT_REFRESH
from tests.conftest import BUCKETS, unique_bucket_name, wait_for
from tests.live_server import LiveServer
from tests.web.conftest import OPERATOR_TOKEN

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
WAIT_MS = 30_000
ANSWERED_WITH_STATUS = "Failed to load resource: the server responded with a status of"


@pytest.fixture
def backend() -> str:
    """Only SQLite: this file tests the console in a browser, and the database is tested elsewhere."""
    return "sqlite"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is absent; the console's browser tests need Debian's chromium package"
        if os.environ.get("LOOPBACK_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " (LOOPBACK_TEST_REQUIRE_BROWSER=1 requires it)")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def start_worker(runtime: Runtime) -> Iterator[Callable[[], None]]:
    """The worker starts when a test says so, so a page can be seen waiting for it first."""
    consumers: list[Any] = []

    def start() -> None:
        consumer = runtime.automation.create_consumer(2, embedded=True)
        consumer.shutdown_timeout = 10
        consumer.start()
        consumers.append(consumer)

    yield start
    for consumer in consumers:
        consumer.stop(graceful=True)


@pytest.fixture
def live(runtime: Runtime) -> Iterator[LiveServer]:
    with LiveServer(create_app(runtime)) as server:
        yield server


def open_page(browser: Browser, problems: list[str], *, scripts: bool = True) -> Page:
    """A fresh browser profile; script errors and blocked resources (CSP) land in ``problems``.

    A page answered with a refusal's status (409, 422) is logged as an error too; that is no problem.
    """
    context = browser.new_context(
        viewport={"width": 1200, "height": 800},
        java_script_enabled=scripts,
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith(ANSWERED_WITH_STATUS):
            problems.append(message.text)

    def on_error(error: Error) -> None:
        problems.append(str(error))

    page.on("console", on_console)
    page.on("pageerror", on_error)
    return page


def sign_in(page: Page, live: LiveServer) -> None:
    page.goto(live.url + "/console")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    page.get_by_label("API token").fill(OPERATOR_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Buckets", exact=True)).to_be_visible()


def test_sign_in_create_wait_for_ready_issue_a_key_once_and_delete(
    browser: Browser, live: LiveServer, start_worker: Callable[[], None]
) -> None:
    problems: list[str] = []
    page = open_page(browser, problems)
    sign_in(page, live)

    # Creating: the form checks as you type, and shows each field's problem beside it.
    page.get_by_role("link", name="Create bucket", exact=True).click()
    name_field = page.get_by_label("Name", exact=True)
    name_field.fill("Bad_Name")
    expect(page.locator("#name-errors")).to_contain_text("may hold only lowercase letters")
    expect(name_field).to_have_attribute("aria-invalid", "true")
    name = unique_bucket_name("browser")
    name_field.fill(name)
    expect(page.locator('[data-ok-for="name"]')).to_contain_text("Available")
    expect(page.locator("#name-errors li")).to_have_count(0)
    expect(page.get_by_label("Provider", exact=True)).to_have_value("local")
    expect(page.get_by_label("Region", exact=True)).to_have_value("local-1")
    page.get_by_role("button", name="Create bucket").click()

    # Waiting: no worker yet, so the page shows the bucket on its way; then it follows it to ready.
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    status = page.locator("h1 .status")
    expect(status).to_have_text("pending")
    expect(page.locator(".progress-panel progress")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")
    start_worker()
    # the worker starts and SeaweedFS answers within seconds, more on a loaded machine (CI, 2 cores)
    expect(status).to_have_text("ready", timeout=30_000)
    expect(page.locator(".progress-panel")).to_have_count(0)
    assert page.evaluate("window.stillTheSamePage === true"), "the page reloaded instead of updating itself"
    endpoint = page.locator("#endpoint").inner_text()

    # Keys: the secret shows once, with a copy button; a reload finds it masked.
    page.get_by_role("button", name="Issue a key").click()
    secret = page.locator("#new-secret")
    expect(secret).to_be_visible()
    secret_value = secret.inner_text()
    access_key_id = page.locator("#new-access-key").inner_text()
    page.get_by_role("button", name="Copy secret").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret_value
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_value,
        region_name="local-1",
    )
    s3.put_object(Bucket=name, Key="hello.txt", Body=b"hello\n")  # the key shown works

    page.reload()
    expect(page.locator("#new-secret")).to_have_count(0)
    assert secret_value not in page.content()
    key_row = page.locator("tr", has_text=access_key_id)
    expect(key_row.locator(".masked")).to_be_visible()

    # Deleting: the name typed in full; a bucket holding objects is refused, then emptied first.
    page.get_by_role("link", name="Delete bucket…").click()
    delete = page.get_by_role("button", name="Delete this bucket")
    expect(delete).to_be_disabled()
    page.get_by_label("Type the bucket's name").fill(name)
    expect(delete).to_be_enabled()
    delete.click()
    expect(page.locator("#held")).to_contain_text("holds 1 object")
    page.get_by_label("Empty it first").check()
    page.get_by_role("button", name="Delete this bucket").click()
    expect(page.locator("h1 .status")).to_have_text("deleted")
    expect(page.get_by_text("This bucket was deleted")).to_be_visible()

    page.get_by_role("link", name="demo / default").click()
    expect(page.get_by_text("1 deleted bucket hidden")).to_be_visible()
    assert problems == []
    page.context.close()


def test_without_javascript_the_page_reloads_itself_until_the_bucket_is_ready(
    browser: Browser, live: LiveServer, start_worker: Callable[[], None]
) -> None:
    problems: list[str] = []
    page = open_page(browser, problems, scripts=False)
    sign_in(page, live)
    page.get_by_role("link", name="Create bucket", exact=True).click()
    expect(page.get_by_role("button", name="Copy")).to_have_count(0)
    page.get_by_label("Name", exact=True).fill("No_Script")
    page.get_by_role("button", name="Create bucket").click()
    expect(page.locator("#name-errors")).to_contain_text("may hold only lowercase letters")  # server-side
    expect(page.get_by_label("Name", exact=True)).to_have_value("No_Script")

    name = unique_bucket_name("noscript")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create bucket").click()
    status = page.locator("h1 .status")
    expect(status).to_have_text("pending")
    refresh = page.locator('meta[http-equiv="refresh"]')
    expect(refresh).to_have_attribute("content", str(NO_SCRIPT_REFRESH))
    bucket_page = page.url
    loads: list[str] = []

    def loaded(frame: Frame) -> None:
        if frame == page.main_frame:
            loads.append(frame.url)

    page.on("framenavigated", loaded)

    # The worker takes what it takes; once the bucket is ready, the page shows it by its next
    # refresh: one period and a page load, not the long wait that a page without one would pass.
    start_worker()
    poll = bucket_page.replace("/console/", "/console/_api/", 1) + "/status"
    wait_for(lambda: page.context.request.get(poll).json()["status"] == "ready", timeout=30, interval=0.1)
    expect(status).to_have_text("ready", timeout=(NO_SCRIPT_REFRESH + 2) * 1000)
    assert loads, "the page showed ready without reloading itself"
    assert set(loads) == {bucket_page}, "the page reloaded itself, and went nowhere else"
    expect(refresh).to_have_count(0)  # ready: nothing left to follow
    expect(page.get_by_role("button", name="Issue a key")).to_be_visible()
    assert problems == []
    page.context.close()


# What sticks out past 390 px, to say which element made a page too wide.
WIDER_THAN_390 = """Array.from(document.querySelectorAll("body *"))
  .filter(e => e.getBoundingClientRect().right > 391 && !e.closest(".table-scroll"))
  .slice(0, 8).map(e => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))"""


def test_at_390_px_wide_the_keys_and_events_tables_scroll_inside_the_page(
    browser: Browser, live: LiveServer, start_worker: Callable[[], None]
) -> None:
    """A phone's width: the wide tables scroll in their own box, the page itself never sideways."""
    problems: list[str] = []
    page = open_page(browser, problems)
    sign_in(page, live)
    start_worker()
    api = page.context.request
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    created = api.post(
        live.url + BUCKETS,
        headers=headers,
        data={"name": unique_bucket_name("narrow"), "provider": "local", "region": "local-1"},
    )
    assert created.status == 202, created.text()
    bucket_id = created.json()["id"]
    wait_for(lambda: api.get(f"{live.url}{BUCKETS}/{bucket_id}", headers=headers).json()["status"] == "ready")
    issued = api.post(
        f"{live.url}{BUCKETS}/{bucket_id}/credentials",
        headers=headers,
        data={"name": "a key with a rather long name for a narrow screen"},
    )
    assert issued.status == 201, issued.text()

    page.set_viewport_size({"width": 390, "height": 844})
    project = live.url + "/console/demo/default"
    for path in (f"/buckets/{bucket_id}", "/keys", ""):
        page.goto(project + path)
        expect(page.locator("table").first).to_be_visible()
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 390, f"{path or '/'} is {width} px wide at 390 px: {page.evaluate(WIDER_THAN_390)}"
        for table in page.locator(".table-scroll").all():  # each table scrolls inside its own box
            assert table.evaluate("box => getComputedStyle(box).overflowX") == "auto"
    assert problems == []
    page.context.close()


def test_without_javascript_the_usage_chart_draws_proportional_bars_within_390_px(
    browser: Browser, live: LiveServer, runtime: Runtime, operator_s3: Any, start_worker: Callable[[], None]
) -> None:
    """The project's usage chart is inline SVG from the server: bars without a script, as long as
    the bytes they stand for, a long name cut short, and a phone's width never scrolled sideways."""
    start_worker()
    problems: list[str] = []
    page = open_page(browser, problems, scripts=False)
    api = page.context.request
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    long_name = unique_bucket_name("a-bucket-name-long-enough-to-be-cut-short-on-a-phone"[:50])
    names = {"large": unique_bucket_name("large"), "half": long_name, "fresh": unique_bucket_name("fresh")}
    ids = {}
    for key, name in names.items():
        created = api.post(
            live.url + BUCKETS, headers=headers, data={"name": name, "provider": "local", "region": "local-1"}
        )
        assert created.status == 202, created.text()
        ids[key] = created.json()["id"]

    def ready(bucket_id: str) -> bool:
        return bool(api.get(f"{live.url}{BUCKETS}/{bucket_id}", headers=headers).json()["status"] == "ready")

    wait_for(lambda: all(ready(bucket_id) for bucket_id in ids.values()))
    for key, size in (("large", 80_000), ("half", 40_000)):
        operator_s3.put_object(Bucket=names[key], Key="blob", Body=b"x" * size)
        runtime.buckets.sync_usage(ids[key])

    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live)
    figure = page.get_by_role("figure", name=re.compile("Size of each bucket, largest first"))
    figure.scroll_into_view_if_needed()
    expect(figure).to_be_visible()
    bars = figure.locator(".bar-fill")
    expect(bars).to_have_count(2)  # the bucket not measured yet has none
    large, half = (bar.evaluate("rect => rect.getBoundingClientRect().width") for bar in bars.all())
    assert large > 200, f"the longest bar is {large} px at 390 px"
    assert half == pytest.approx(large / 2, rel=0.02)
    expect(figure.get_by_text("not measured yet", exact=True)).to_be_visible()
    expect(figure.get_by_role("link", name=long_name)).to_be_visible()  # the whole name, for readers
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 390, f"the project page is {width} px wide at 390 px: {page.evaluate(WIDER_THAN_390)}"
    assert problems == []
    page.context.close()
