"""Identifiers that say what they name (``bkt_…``) and sort by creation time, for cursor paging."""

from __future__ import annotations

import secrets
import threading
import time

_BODY_DIGITS = 26
_last_body = 0
_lock = threading.Lock()


def new_id(prefix: str) -> str:
    """A 26-character id after ``prefix_``: 12 hex digits of milliseconds, then 14 random ones.

    Within a process ids only grow: one made in the same millisecond as the last, or after the
    clock stepped back, is the last one plus one, so lists and audit pages keep creation order.
    """
    global _last_body
    with _lock:
        body = (int(time.time() * 1000) << 56) | secrets.randbits(56)
        if body <= _last_body:
            body = _last_body + 1
        _last_body = body
    return f"{prefix}_{body:0{_BODY_DIGITS}x}"
