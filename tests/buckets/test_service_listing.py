"""A project's lists from ``BucketService``: v2's numbered pages, read by keyset from either end
and skipping in an index between, cover the current rows once in order whatever the page size;
v3's provider and region filters, compared as ids, find what the names name.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loopback.buckets.service import BucketFilters, BucketService
from loopback.buckets.v2 import MAX_PAGE
from loopback.runtime import Runtime
from tests.buckets.fakes import RecordingQueue, buckets_with
from tests.conftest import operator_scope, unique_bucket_name
from tests.providers import fake_family
from tests.providers.fake_family import FakeProvider


@pytest.fixture
def fakes(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeProvider, FakeProvider]]:
    """Two providers of the ``fake`` family, each with a region coded ``fake-1``."""
    with (
        fake_family.registered(runtime, monkeypatch) as first,
        fake_family.registered(runtime, monkeypatch) as second,
    ):
        yield first, second


@pytest.fixture
def buckets(runtime: Runtime) -> BucketService:
    return buckets_with(runtime, RecordingQueue())


def created(runtime: Runtime, buckets: BucketService, provider: FakeProvider, count: int) -> list[str]:
    with runtime.db.session() as session:
        scope = operator_scope(session)
        return [
            buckets.create(session, scope, unique_bucket_name(), provider.name, "fake-1").bucket.id
            for _ in range(count)
        ]


def test_numbered_pages_hold_every_current_row_once_in_order(
    runtime: Runtime, buckets: BucketService, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    ids = created(runtime, buckets, fakes[0], 23)
    for bucket_id in ids[4:7]:  # three rows replaced: their replacements are listed, they are not
        buckets.reconcile(bucket_id)
        with runtime.db.session() as session:
            new = buckets.replace(
                session, operator_scope(session), bucket_id, unique_bucket_name(), None, None
            )
            ids.append(new.bucket.id)
    current = sorted(set(ids) - set(ids[4:7]))
    assert len(current) == 23
    with runtime.db.session() as session:
        scope = operator_scope(session)
        for per_page in (1, 2, 4, 5, 10, 22, 23, 100):
            pages = -(-23 // per_page)
            read: list[str] = []
            for number in range(1, pages + 1):
                views, total = buckets.page(session, scope, number, per_page)
                assert total == 23
                expected = per_page if number < pages else 23 - per_page * (pages - 1)
                assert len(views) == expected, (per_page, number)
                read += [v.bucket.id for v in views]
            assert read == current, per_page  # oldest first, each once: from the front, the back, between
            for past in (pages + 1, MAX_PAGE):
                assert buckets.page(session, scope, past, per_page) == ([], 23)


def test_the_provider_and_region_filters_find_what_they_name(
    runtime: Runtime, buckets: BucketService, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    first, second = fakes
    at_first = created(runtime, buckets, first, 3)
    at_second = created(runtime, buckets, second, 2)
    with runtime.db.session() as session:
        scope = operator_scope(session)

        def listed(**filters: str) -> list[str]:
            views, _ = buckets.list(session, scope, 100, None, BucketFilters(**filters))
            return [v.bucket.id for v in views]

        assert listed(provider=first.name) == at_first
        assert listed(provider=second.name, region="fake-1") == at_second
        assert listed(region="fake-1") == sorted(at_first + at_second)  # one code, two providers
        assert listed(provider=first.name, region="elsewhere") == []
        assert listed(provider="no-such-provider") == []
        views, cursor = buckets.list(session, scope, 2, None, BucketFilters(region="fake-1"))
        assert cursor == views[-1].bucket.id
        rest, last = buckets.list(session, scope, 2, cursor, BucketFilters(region="fake-1"))
        assert [v.bucket.id for v in [*views, *rest]] == sorted(at_first + at_second)[:4]
        assert last is not None
