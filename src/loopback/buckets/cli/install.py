"""A bucket's install link from a shell: ``--install PART=VALUE``, once per part.

The parts are those of the API's ``install`` (``catalog_item``, ``release``, ``cluster``,
``namespace``, ``claim``): ``create`` and ``adopt`` send them as the new bucket's link, ``list``
and ``delete`` as filters (``?install.release=...``). An unknown part or one given twice is a usage
error here; the values are the API's to judge (422 naming ``install.<part>``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer

# the parts of the API's install link, in its order (buckets.models.INSTALL_LENGTHS); kept here so
# that the CLI does not import the database models to read five words
PARTS = ("catalog_item", "release", "cluster", "namespace", "claim")


HOW = (
    f"PART is one of {', '.join(PARTS)}; repeat for more (--install release=shop-db --install namespace=shop)"
)


def _option(purpose: str) -> Any:
    return typer.Option("--install", metavar="PART=VALUE", help=f"{purpose}; {HOW}", show_default=False)


LinkOption = Annotated[list[str] | None, _option("link the bucket to the Kubernetes install it is made for")]
FilterOption = Annotated[list[str] | None, _option("the buckets linked to an install with this value")]


def link_of(pairs: Sequence[str] | None) -> dict[str, str] | None:
    """The install link ``--install PART=VALUE`` gave, by part; None when none was given."""
    if not pairs:
        return None
    link: dict[str, str] = {}
    for pair in pairs:
        part, equals, value = pair.partition("=")
        if not equals or part not in PARTS:
            raise typer.BadParameter(
                f"{pair!r} is not PART=VALUE with PART one of {', '.join(PARTS)}", param_hint="--install"
            )
        if part in link:
            raise typer.BadParameter(f"{part} is given twice", param_hint="--install")
        link[part] = value
    return link


def filters_of(link: Mapping[str, str] | None) -> dict[str, str]:
    """An install link (``link_of``) as the list's query parameters (``install.PART``)."""
    return {f"install.{part}": value for part, value in (link or {}).items()}


def described(install: Any) -> str:
    """A bucket's install link in a table cell: ``release=shop-db namespace=shop``, or ``-``."""
    if not isinstance(install, Mapping):
        return "-"
    return " ".join(f"{part}={install[part]}" for part in PARTS if install.get(part)) or "-"
