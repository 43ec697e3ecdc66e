"""The metrics tests' settings: a resync every second, so a periodic round's success shows at once,
and the database read at every scrape, so a scrape sees what the test just did."""

from __future__ import annotations

import pytest

from loopback.kit.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.resync_seconds = 1
    settings.metrics_figures_seconds = 0
    return settings
