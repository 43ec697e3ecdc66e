"""IONOS's bucket naming rules, beyond S3's, and what about names cannot be checked beforehand."""

from __future__ import annotations

import re

_IONOS_ALLOWED = re.compile(r"^[a-z0-9.-]+$")
_IP_LIKE = re.compile(r"^\d+(\.\d+){3}$")
# Not checkable here, stated so operators and tenants know: IONOS refuses the name at creation.
NAME_NOTES: tuple[str, ...] = (
    "bucket names are unique across all of IONOS, not only this account: a name another IONOS "
    "customer holds is refused when the bucket is created (BucketAlreadyExists)",
)


def ionos_name_problems(name: str) -> list[str]:
    """IONOS's bucket naming rules (docs.ionos.com, Object Storage, Bucket naming rules).

    3 to 63 characters; lowercase letters, digits, dots and hyphens only (so no underscore and no
    capital); starting with a letter or digit and not ending with a dot or hyphen; no two periods
    in a row and no hyphen next to a period; nothing that looks like an IPv4 address. These mostly
    repeat S3's rules, which are checked first; the IP rule is wider than S3's (any four dotted
    numbers, ``999.1.1.1`` too). Global uniqueness is ``NAME_NOTES``'s, not checkable here.
    """
    problems: list[str] = []
    if not 3 <= len(name) <= 63:
        problems.append(f"IONOS: must be 3 to 63 characters long, not {len(name)}")
    if not _IONOS_ALLOWED.match(name):
        problems.append("IONOS: may hold only lowercase letters, digits, dots and hyphens (no underscore)")
    if name and not name[0].isalnum():
        problems.append("IONOS: must start with a lowercase letter or a digit")
    if name.endswith((".", "-")):
        problems.append("IONOS: must not end with a dot or a hyphen")
    if ".." in name:
        problems.append("IONOS: must not hold two periods in a row")
    if ".-" in name or "-." in name:
        problems.append("IONOS: must not put a hyphen next to a period")
    if _IP_LIKE.match(name):
        problems.append("IONOS: must not look like an IP address")
    return problems
