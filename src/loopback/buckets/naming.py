"""S3 bucket naming rules, as AWS documents them for general purpose buckets."""

from __future__ import annotations

import ipaddress
import re

ALLOWED = re.compile(r"^[a-z0-9.-]+$")
RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problems(name: str) -> list[str]:
    """Every rule ``name`` breaks, so a caller can fix them all at once; empty when the name is valid."""
    problems: list[str] = []
    if not 3 <= len(name) <= 63:
        problems.append(f"must be 3 to 63 characters long, not {len(name)}")
    if not ALLOWED.match(name):
        problems.append("may hold only lowercase letters, digits, hyphens and dots")
    if name and not (name[0].isalnum() and name[-1].isalnum()):
        problems.append("must begin and end with a lowercase letter or a digit")
    if ".." in name:
        problems.append("must not hold two dots in a row")
    if ".-" in name or "-." in name:
        problems.append("must not put a dot next to a hyphen")
    try:
        ipaddress.IPv4Address(name)
        problems.append("must not be formatted as an IP address")
    except ValueError:
        pass
    for prefix in RESERVED_PREFIXES:
        if name.startswith(prefix):
            problems.append(f"must not begin with the reserved prefix {prefix!r}")
    for suffix in RESERVED_SUFFIXES:
        if name.endswith(suffix):
            problems.append(f"must not end with the reserved suffix {suffix!r}")
    return problems
