"""Rows for billing tests: buckets with a chosen life and usage samples at chosen times."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopback.buckets.models import Bucket
from loopback.kit.ids import new_id
from loopback.providers.models import Provider, Region
from loopback.tenancy.models import Organization, Project


def project(session: Session, org_slug: str, slug: str) -> Project:
    """The live project ``slug`` of organization ``org_slug``, made when missing."""
    org = session.scalars(select(Organization).where(Organization.slug == org_slug)).one()
    found = session.scalars(
        select(Project).where(Project.organization_id == org.id, Project.slug == slug)
    ).first()
    if found is None:
        found = Project(id=new_id("prj"), organization_id=org.id, slug=slug, name=slug.title())
        session.add(found)
        session.flush()
    return found


def bucket(
    session: Session,
    org_slug: str,
    project_slug: str,
    name: str,
    created_at: datetime,
    deleted_at: datetime | None = None,
) -> str:
    """A bucket at provider ``local`` (``local-1``) that lived from ``created_at`` to ``deleted_at``."""
    home = project(session, org_slug, project_slug)
    provider = session.scalars(select(Provider).where(Provider.name == "local")).one()
    region = session.scalars(
        select(Region).where(Region.provider_id == provider.id, Region.code == "local-1")
    ).one()
    row = Bucket(
        id=new_id("bkt"),
        organization_id=home.organization_id,
        project_id=home.id,
        name=name,
        provider_id=provider.id,
        region_id=region.id,
        status="deleted" if deleted_at else "ready",
        created_at=created_at,
        deleted_at=deleted_at,
    )
    session.add(row)
    session.flush()
    return row.id
