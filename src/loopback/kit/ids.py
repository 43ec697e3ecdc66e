"""Identifiers that say what they name (``bkt_…``) and sort by creation time, for cursor paging."""

from __future__ import annotations

import secrets
import time


def new_id(prefix: str) -> str:
    """A 26-character id after ``prefix_``: 12 hex digits of milliseconds, then 14 random ones."""
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(7)}"
