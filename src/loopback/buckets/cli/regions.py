"""``loopback regions``: where buckets can go, and the hint that points there when a place is refused."""

from __future__ import annotations

from typing import Annotated

import typer

from loopback.buckets.cli.columns import REGION
from loopback.client.errors import ApiProblem
from loopback.client.http import v3
from loopback.client.options import Options, with_options
from loopback.kit.errors import Invalid

REGIONS_HINT = "`loopback regions` lists the providers and regions to choose from"
PLACES = {"provider", "region"}


def placement_hint(problem: ApiProblem) -> ApiProblem:
    """A refused provider or region, with the command that lists the ones there are (by field)."""
    if problem.is_a(Invalid) and PLACES & {e.field for e in problem.errors}:
        problem.hints.append(REGIONS_HINT)
    return problem


@with_options()
def regions(
    options: Options,
    provider: Annotated[str | None, typer.Option(help="only this provider's regions")] = None,
    family: Annotated[str | None, typer.Option(help="only providers of this family, e.g. s3")] = None,
) -> None:
    """The providers and regions buckets can be created in (for buckets create --provider --region)."""
    with options.api() as client:
        answer = client.get(v3("regions"))
    show = options.printer()
    if provider is None and family is None:
        show.rows(answer, "regions", REGION, "No regions are enabled; ask the installation's operator.")
        return
    chosen = [
        r
        for r in answer.body.get("regions") or []
        if provider in (None, r.get("provider")) and family in (None, r.get("family"))
    ]
    if show.json:
        show.document({"regions": chosen})
    else:
        show.table(chosen, REGION, "No region matches.")
