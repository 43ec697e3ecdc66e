"""``loopback quotas show|set``: an organization's or, with ``--project``, a project's quotas.

A thin client of ``/v3/organizations/{org}[/projects/{project}]/quotas``: the API resolves what
applies and refuses a project's value above its organization's; the table shows each quota's own
value, the one in force and where it comes from, ``--output json`` the API's answer as it came.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loopback.buckets.cli.place import ORG, PROJECT, organization
from loopback.client.command import api_group
from loopback.client.http import ApiClient, ApiResponse, v3
from loopback.client.operations import ORG as ORG_PATH
from loopback.client.operations import PROJECT as PROJECT_PATH
from loopback.client.operations import calls
from loopback.client.options import Options, with_options
from loopback.client.output import Column, human_bytes, shown

PANEL = "Quotas (API client)"
SIZES = frozenset({"bucket_bytes", "project_bytes"})


def _path(client: ApiClient, options: Options) -> str:
    slug = organization(client, options.org)
    if options.project:
        return v3("organizations", slug, "projects", options.project, "quotas")
    return v3("organizations", slug, "quotas")


def _limit(name: str) -> Any:
    def formatted(value: Any) -> str:
        if value is None:
            return "unlimited"
        return human_bytes(value) if name in SIZES else shown(value)

    return formatted


def _shown(options: Options, answer: ApiResponse) -> None:
    show = options.printer()
    if show.json:
        typer.echo(answer.text)
        return
    body = answer.body
    enforced = set(body.get("enforced") or [])
    rows = [
        {
            "quota": name,
            "own": quota.get("own"),
            "limit": _limit(name)(quota.get("limit")),
            "source": quota.get("source"),
            "enforced": name in enforced,
        }
        for name, quota in (body.get("quotas") or {}).items()
    ]
    columns = [
        Column("quota", "quota"),
        Column("limit", "limit"),
        Column("from", "source"),
        Column("own", "own"),
        Column("enforced", "enforced"),
    ]
    show.table(rows, columns, "No quotas.")
    use = body.get("use") or {}
    where = f"project {body['project']!r}" if body.get("project") else f"{body.get('organization')!r}"
    show.note(
        f"{where} uses {shown(use.get('buckets'))} buckets, {shown(use.get('objects'))} objects, "
        f"{human_bytes(use.get('bytes'))} (docs/quotas.md)"
    )


@with_options(ORG, PROJECT)
def show(options: Options) -> None:
    """The quotas in force, where each comes from, and the use; --project for one project's."""
    with options.api() as client:
        answer = client.get(_path(client, options))
    _shown(options, answer)


def _count(flag: str, help_text: str) -> Any:
    return typer.Option(flag, min=0, help=help_text + "; left out: inherit", show_default=False)


@with_options(ORG, PROJECT)
def set_quotas(
    options: Options,
    buckets: Annotated[int | None, _count("--buckets", "buckets per project (enforced at create)")] = None,
    bucket_bytes: Annotated[
        int | None, _count("--bucket-bytes", "bytes per bucket (enforced after each usage sync)")
    ] = None,
    bucket_objects: Annotated[
        int | None, _count("--bucket-objects", "objects per bucket (enforced after each usage sync)")
    ] = None,
    project_bytes: Annotated[
        int | None, _count("--project-bytes", "bytes per project (enforced after each usage sync)")
    ] = None,
    project_objects: Annotated[
        int | None, _count("--project-objects", "objects per project (enforced after each usage sync)")
    ] = None,
) -> None:
    """Set every quota at once: an organization's (the operator) or, with --project, a project's
    (owners and admins, never above the organization's); one left out inherits."""
    values = {
        "buckets": buckets,
        "bucket_bytes": bucket_bytes,
        "bucket_objects": bucket_objects,
        "project_bytes": project_bytes,
        "project_objects": project_objects,
    }
    with options.api() as client:
        answer = client.request("PUT", _path(client, options), json=values)
    _shown(options, answer)


quotas = api_group(
    "Quotas: buckets per project, bytes and objects per bucket and per project.",
    {
        "show": calls(show, f"GET {ORG_PATH}/quotas", f"GET {PROJECT_PATH}/quotas"),
        "set": calls(set_quotas, f"PUT {ORG_PATH}/quotas", f"PUT {PROJECT_PATH}/quotas"),
    },
)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``loopback`` command, under a help panel of their own."""
    app.add_typer(quotas, name="quotas", rich_help_panel=PANEL)
