"""``loopback projects list|create|show|rename|delete``: the projects of an organization (``--org``)."""

from __future__ import annotations

from typing import Annotated

import typer

from loopback.client.options import YES, Options, with_options
from loopback.tenancy.cli.columns import PROJECT
from loopback.tenancy.cli.options import ORG, in_org


@with_options(ORG)
def list_projects(options: Options) -> None:
    """The organization's projects."""
    with options.api() as client:
        answer = client.get(in_org(options, "projects"))
    options.printer().rows(answer, "projects", PROJECT, f"No projects in {options.org!r}.")


@with_options(ORG)
def create_project(
    options: Options,
    slug: Annotated[str, typer.Argument(help="lowercase letters, digits and hyphens; used in paths")],
    name: Annotated[str | None, typer.Option(help="display name; the slug when left out")] = None,
) -> None:
    """Create a project in the organization."""
    with options.api() as client:
        answer = client.post(in_org(options, "projects"), {"slug": slug, "name": name})
    options.printer().record(answer, PROJECT)


@with_options(ORG)
def show_project(
    options: Options, project: Annotated[str, typer.Argument(help="the project's slug")]
) -> None:
    """One project."""
    with options.api() as client:
        answer = client.get(in_org(options, "projects", project))
    options.printer().record(answer, PROJECT)


@with_options(ORG)
def rename_project(
    options: Options,
    project: Annotated[str, typer.Argument(help="the project's slug; it stays")],
    name: Annotated[str, typer.Argument(help="the new display name")],
) -> None:
    """Change a project's display name; the slug in paths stays."""
    with options.api() as client:
        answer = client.patch(in_org(options, "projects", project), {"name": name})
    options.printer().record(answer, PROJECT)


@with_options(ORG, YES)
def delete_project(
    options: Options, project: Annotated[str, typer.Argument(help="the project's slug")]
) -> None:
    """Delete a project with no live buckets; its project tokens stop working."""
    options.confirm(f"Delete project {project!r} of {options.org!r} and revoke its project tokens?")
    with options.api() as client:
        answer = client.delete(in_org(options, "projects", project))
    show = options.printer()
    show.record(answer, PROJECT)
    show.note(f"Deleted project {project!r}.")
