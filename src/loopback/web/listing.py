"""A project's bucket list as the console shows it: searched, sorted, totalled and paged by its
query parameters, so that it works as plain links and a GET form without JavaScript.

The list reads every current bucket of the project (``BucketService.list`` page by page): the
page's follow-up fingerprint (``following.fingerprint``) and the project's totals need them all
anyway, so searching and sorting them here costs no further statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from loopback.buckets.models import INSTALL_LENGTHS, BucketStatus
from loopback.buckets.service import BucketFilters, BucketView
from loopback.tenancy.access import ProjectScope
from loopback.web.dependencies import PAGE_SIZE, Console
from loopback.web.usage_chart import MEASURES

# How the list may be sorted, by the column a person clicks; the first is the default.
SORTS: dict[str, str] = {"created": "Created", "name": "Name", "status": "Status", "size": "Size"}
ORDERS = ("asc", "desc")
MAX_SEARCH = 63  # a bucket name's longest
LIST_PAGE_SIZE = PAGE_SIZE  # buckets a page of the list shows


def current_buckets(console: Console, scope: ProjectScope) -> list[BucketView]:
    """Every current (not superseded) bucket of the project, oldest first."""
    found: list[BucketView] = []
    cursor: str | None = None
    while True:
        views, cursor = console.runtime.buckets.list(
            console.session, scope, 200, cursor, BucketFilters(superseded=False)
        )
        found += views
        if cursor is None:
            return found


def _utc(moment: datetime) -> datetime:
    """SQLite answers naive UTC times and PostgreSQL aware ones: compare them alike."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def _size(view: BucketView) -> int:
    """A deleted bucket holds nothing; one never synced sorts below an empty one."""
    if view.bucket.status == BucketStatus.DELETED or view.bucket.bytes is None:
        return -1
    return view.bucket.bytes


SORT_KEYS: dict[str, Callable[[BucketView], Any]] = {
    "created": lambda v: (_utc(v.bucket.created_at), v.bucket.id),
    "name": lambda v: (v.bucket.name, v.bucket.id),
    "status": lambda v: (v.bucket.status, v.bucket.name, v.bucket.id),
    "size": lambda v: (_size(v), v.bucket.name, v.bucket.id),
}


@dataclass(frozen=True)
class Totals:
    """What the project's live buckets hold: deleted ones count for nothing."""

    buckets: int
    objects: int
    bytes: int
    unsynced: int  # live buckets without a usage sync yet, so not in the sums

    @classmethod
    def of(cls, views: Sequence[BucketView]) -> Totals:
        live = [v.bucket for v in views if v.bucket.status != BucketStatus.DELETED]
        return cls(
            len(live),
            sum(b.object_count or 0 for b in live),
            sum(b.bytes or 0 for b in live),
            sum(1 for b in live if b.bytes is None),
        )


@dataclass(frozen=True)
class BucketQuery:
    """The list's query parameters, each checked: an unknown sort or order is the default one."""

    search: str = ""
    sort: str = "created"
    order: str = "asc"
    deleted: bool = False
    page: int = 1
    chart: str = "size"  # what the usage chart measures (``usage_chart.MEASURES``)
    release: str = ""  # only the buckets of this install release (their install link's ``release``)

    @classmethod
    def of(
        cls,
        search: str,
        sort: str,
        order: str,
        deleted: bool,
        page: int,
        chart: str = "size",
        release: str = "",
    ) -> BucketQuery:
        return cls(
            search.strip().lower()[:MAX_SEARCH],
            sort if sort in SORTS else "created",
            order if order in ORDERS else "asc",
            deleted,
            max(page, 1),
            chart if chart in MEASURES else "size",
            release.strip()[: INSTALL_LENGTHS["release"]],
        )

    @property
    def narrowed(self) -> bool:
        """Whether the list shows only some of the buckets: searched, or one install's."""
        return bool(self.search or self.release)

    def href(self, **changes: Any) -> str:
        """This list's link with ``changes``; default values are left out, so links stay short."""
        query = replace(self, **changes)
        params: dict[str, str] = {}
        if query.search:
            params["q"] = query.search
        if query.sort != "created":
            params["sort"] = query.sort
        if query.order != "asc":
            params["order"] = query.order
        if query.deleted:
            params["deleted"] = "1"
        if query.page > 1:
            params["page"] = str(query.page)
        if query.chart != "size":
            params["chart"] = query.chart
        if query.release:
            params["release"] = query.release
        return "?" + urlencode(params) if params else "?"

    def sort_link(self, column: str) -> str:
        """A column's header link: sort by it, or turn its order around when it sorts already."""
        if column == self.sort:
            return self.href(order="desc" if self.order == "asc" else "asc", page=1)
        return self.href(sort=column, order="desc" if column == "size" else "asc", page=1)

    def sorted_by(self, column: str) -> str | None:
        """``aria-sort`` of a column header: how the list is sorted by it, if it is."""
        if column != self.sort:
            return None
        return "ascending" if self.order == "asc" else "descending"


@dataclass(frozen=True)
class Listed:
    """One page of the list, and what the page says around it."""

    shown: list[BucketView]
    matching: int  # buckets the search and the deleted switch leave, over every page
    hidden: int  # deleted buckets left out while they are hidden
    has_next: bool


def list_page(views: Sequence[BucketView], query: BucketQuery) -> Listed:
    """The page ``query`` asks for: deleted buckets hidden unless asked for, searched, sorted."""
    per_page = LIST_PAGE_SIZE
    kept = [v for v in views if query.deleted or v.bucket.status != BucketStatus.DELETED]
    hidden = len(views) - len(kept)
    if query.search:
        kept = [v for v in kept if query.search in v.bucket.name]
    if query.release:
        kept = [v for v in kept if v.bucket.install_release == query.release]
    kept.sort(key=SORT_KEYS[query.sort], reverse=query.order == "desc")
    start = (query.page - 1) * per_page
    return Listed(kept[start : start + per_page], len(kept), hidden, len(kept) > start + per_page)
