"""The console and a bucket's quota (issue 15): where it stands, and a banner while it is over."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update

from loopback.buckets.cli.columns import quota
from loopback.buckets.models import Bucket
from loopback.runtime import Runtime
from tests.conftest import create_ready_bucket
from tests.web.conftest import sign_in

PROJECT = "/console/demo/default"


def stand(runtime: Runtime, bucket_id: str, **columns: object) -> None:
    """The quota columns as the enforcement after a usage sync would leave them."""
    with runtime.db.session() as session:
        session.execute(update(Bucket).where(Bucket.id == bucket_id).values(**columns))
        session.commit()


def test_the_bucket_page_shows_the_quota_and_a_banner_while_over_it(
    console: TestClient, client: TestClient, runtime: Runtime
) -> None:
    bucket = create_ready_bucket(client, "quota")
    sign_in(console)
    page = f"{PROJECT}/buckets/{bucket['id']}"
    assert 'id="quota"' not in console.get(page).text  # no bytes or objects quota applies

    stand(
        runtime,
        bucket["id"],
        quota_state="warning",
        quota_name="bucket_objects",
        quota_limit=10,
        quota_used=9,
    )
    shown = console.get(page).text
    assert '<dd id="quota">9 of 10 objects: <strong>warning</strong></dd>' in shown
    assert "over-quota" not in shown

    stand(
        runtime,
        bucket["id"],
        quota_state="exceeded",
        quota_name="project_bytes",
        quota_limit=1024,
        quota_used=2048,
    )
    over = console.get(page).text
    assert "2.0 KiB of 1.0 KiB in the project: <strong>exceeded</strong>" in over
    assert 'id="over-quota"' in over
    assert "over its quota (project bytes)" in over


def test_the_cli_reads_a_quota_as_a_person_does() -> None:
    assert quota(None) == "-"
    assert quota({"quota": "bucket_bytes", "limit": 1000, "used": 1050, "state": "exceeded"}) == (
        "bucket_bytes 1.0 KiB of 1000 B: exceeded"
    )
    assert quota({"quota": "bucket_objects", "limit": 10, "used": 9, "state": "warning"}) == (
        "bucket_objects 9 of 10: warning"
    )
