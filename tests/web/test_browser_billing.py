"""The billing page in a real browser without JavaScript, at a phone's width (issue 15, point 3).

The fixtures are test_browser.py's: Debian's Chromium through Playwright, skipped where it is absent
unless ``LOOPBACK_TEST_REQUIRE_BROWSER=1``; SQLite only. One test, as the suite's time is counted.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Browser, expect

from loopback.buckets.samples import Sample, record_samples
from loopback.kit.clock import utcnow
from loopback.runtime import Runtime
from loopback.web.billing import bounds
from tests.billing import history
from tests.live_server import LiveServer
from tests.web.test_browser import WIDER_THAN_390, backend, browser, live, open_page, sign_in

__all__ = ["backend", "browser", "live"]  # test_browser.py's fixtures, used here by name

GB = 10**9


def test_without_javascript_the_billing_page_fits_390_px_and_draws_a_bar_per_project(
    browser: Browser, live: LiveServer, runtime: Runtime
) -> None:
    """Tables scroll in their own box, the bars are SVG from the server, nothing is blocked (CSP)."""
    now = utcnow()
    last_start, _ = bounds("last", now)
    with runtime.db.session() as session:
        for project, name, size in (
            ("default", "photos-archive", 40 * GB),
            ("a-long-project-name-web", "site", 20 * GB),
        ):
            bucket = history.bucket(session, "demo", project, name, last_start - timedelta(days=3))
            record_samples(session, [Sample(bucket, last_start - timedelta(hours=1), size // 10**6, size)])
    problems: list[str] = []
    page = open_page(browser, problems, scripts=False)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live)
    page.get_by_role("link", name="Billing", exact=True).click()
    expect(page.get_by_role("heading", name="Billing", level=1)).to_be_visible()
    for title in ("This month so far", "Last month"):
        period = page.get_by_role("region", name=title)
        expect(period.get_by_role("link", name="Download CSV")).to_be_visible()
        bars = period.locator(".bar-fill")
        expect(bars).to_have_count(2)
        short, long = sorted(bar.evaluate("rect => rect.getBoundingClientRect().width") for bar in bars.all())
        assert long > 200, f"the longest bar is {long} px at 390 px"
        assert short == pytest.approx(long / 2, rel=0.02), title  # 20 GB beside 40 GB
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 390, f"the billing page is {width} px wide at 390 px: {page.evaluate(WIDER_THAN_390)}"
    for table in page.locator(".table-scroll").all():
        assert table.evaluate("box => getComputedStyle(box).overflowX") == "auto"
    assert problems == []
    page.context.close()
