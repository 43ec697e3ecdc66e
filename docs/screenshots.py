"""Take the console's screenshots in docs/ (console-*.png) from a real installation in a temp dir.

Run from the repository root: ``.venv/bin/python docs/screenshots.py``. It starts SeaweedFS, the
API with its worker and Debian's Chromium, makes a few buckets, and visits the main pages at
1200x800 (and the project's usage chart alone); nothing outside a temporary directory is touched.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.live_server, the same server the browser tests use

import boto3  # noqa: E402
from playwright.sync_api import Locator, Page, expect, sync_playwright  # noqa: E402
from tests.live_server import LiveServer  # noqa: E402

from loopback.app import create_app  # noqa: E402
from loopback.buckets.service import BucketService  # noqa: E402
from loopback.kit.settings import Settings  # noqa: E402
from loopback.migrations import upgrade  # noqa: E402
from loopback.providers.seaweedfs import EmbeddedSeaweedFS  # noqa: E402
from loopback.runtime import Runtime  # noqa: E402
from loopback.serve import register_embedded_storage  # noqa: E402
from loopback.tenancy.access import authenticate, project_scope  # noqa: E402
from loopback.tenancy.permissions import permission  # noqa: E402
from loopback.tenancy.service import bootstrap  # noqa: E402

TOKEN = "lbk_screenshot-operator-token"
DOCS = ROOT / "docs"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def wait_ready(runtime: Runtime, bucket_id: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with runtime.db.session() as session:
            scope = project_scope(
                session, authenticate(session, TOKEN), "demo", "default", permission("buckets.read")
            )
            if runtime.buckets.get(session, scope, bucket_id).bucket.status == "ready":
                return
        time.sleep(0.1)
    raise RuntimeError(f"bucket {bucket_id} did not become ready")


def seed(runtime: Runtime, storage: EmbeddedSeaweedFS) -> None:
    """Three ready buckets with some objects and a synced usage, and one still waiting for the worker."""
    s3 = boto3.client(
        "s3",
        endpoint_url=storage.endpoint,
        aws_access_key_id=storage.identity.access_key_id,
        aws_secret_access_key=storage.identity.secret_access_key,
        region_name="local-1",
    )
    contents = {"photos-archive": (24, 180_000), "ml-datasets": (3, 2_400_000), "app-uploads": (0, 0)}
    with runtime.db.session() as session:
        scope = project_scope(
            session, authenticate(session, TOKEN), "demo", "default", permission("buckets.create")
        )
        made = {name: runtime.buckets.create(session, scope, name, "local", "local-1") for name in contents}
        # Recorded but never handed to the worker: it shows as pending, with its progress.
        idle = BucketService(runtime.db, runtime.providers, lambda task, *args, delay=None: None)
        idle.create(session, scope, "logs-2025", "local", "local-1")
    for name, (count, size) in contents.items():
        wait_ready(runtime, made[name].bucket.id)
        for index in range(count):
            s3.put_object(Bucket=name, Key=f"object-{index:03}", Body=b"x" * size)
        runtime.buckets.sync_usage(made[name].bucket.id)


def shoot(page: Page | Locator, name: str) -> None:
    """The page's viewport, or one part of it."""
    path = DOCS / f"console-{name}.png"
    page.screenshot(path=str(path))
    sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="loopback-screenshots-") as temp:
        root = Path(temp)
        with EmbeddedSeaweedFS(root / "seaweedfs") as storage:
            settings = Settings(data_dir=root / "data", bootstrap_token=TOKEN, embedded_storage=False)
            settings.data_dir.mkdir(parents=True)
            upgrade(settings.resolved_database_url)
            runtime = Runtime.from_settings(settings)
            with runtime.db.session() as session:
                bootstrap(session, settings)
                register_embedded_storage(runtime, session, storage)
            consumer = runtime.automation.create_consumer(2, embedded=True)
            consumer.start()
            try:
                seed(runtime, storage)
                with LiveServer(create_app(runtime)) as live, sync_playwright() as playwright:
                    browser = playwright.chromium.launch(
                        executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
                    )
                    page = browser.new_page(viewport={"width": 1200, "height": 800})
                    page.goto(live.url + "/console")
                    shoot(page, "sign-in")

                    page.get_by_label("API token").fill(TOKEN)
                    page.get_by_role("button", name="Sign in").click()
                    expect(page.get_by_role("heading", name="Buckets", exact=True)).to_be_visible()
                    shoot(page, "buckets")
                    shoot(page.locator("#usage"), "usage-chart")

                    page.get_by_role("link", name="Create bucket", exact=True).click()
                    page.get_by_label("Name", exact=True).fill("My_Bucket")
                    expect(page.locator("#name-errors li").first).to_be_visible()
                    page.get_by_label("Name", exact=True).blur()
                    shoot(page, "create-error")

                    page.goto(live.url + "/console/demo/default")
                    page.get_by_role("table").get_by_role("link", name="photos-archive").click()
                    page.get_by_role("button", name="Issue a key").click()
                    expect(page.locator("#new-secret")).to_be_visible()
                    page.evaluate("window.scrollTo(0, 0)")  # the whole story: bucket, endpoint, the key
                    shoot(page, "bucket-secret")
                    browser.close()
            finally:
                consumer.stop(graceful=True)
                runtime.close()


if __name__ == "__main__":
    main()
