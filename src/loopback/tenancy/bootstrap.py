"""The installation's own ways in, which no caller's token opens.

The first start (``loopback serve``) makes the operator, organization ``demo``, project
``default`` and the operator's bootstrap token, once; ``loopback admin token`` issues a token for
a user who has none yet. Both run on the installation's side with no principal, so they live
apart from ``TenancyService``; each commits its own unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from loopback.kit.clock import utcnow
from loopback.kit.errors import Invalid
from loopback.kit.files import write_private
from loopback.kit.ids import new_id
from loopback.kit.settings import Settings
from loopback.tenancy import repository, tokens
from loopback.tenancy.access import generate_token, hash_token, token_prefix
from loopback.tenancy.models import ApiToken, Membership, Organization, Project, User
from loopback.tenancy.permissions import Role
from loopback.tenancy.rules import EMAIL

BOOTSTRAP_TOKEN_NAME = "bootstrap"
BOOTSTRAP_TOKEN_FILE = "bootstrap-token"
OPERATOR_EMAIL = "operator@loopback.local"


@dataclass(frozen=True)
class BootstrapResult:
    """What the first start made; ``token`` is set only when a token was generated right now."""

    organization: str
    project: str
    token: str | None
    token_file: Path | None


def bootstrap(session: Session, settings: Settings) -> BootstrapResult:
    """Create the operator, organization ``demo``, project ``default`` and the operator's token, once."""
    operator = session.scalar(repository.user_by_email(OPERATOR_EMAIL))
    if operator is None:
        operator = User(id=new_id("usr"), email=OPERATOR_EMAIL, is_operator=True)
        session.add(operator)
    organization = session.scalar(repository.live_organization("demo"))
    if organization is None:
        organization = Organization(id=new_id("org"), slug="demo", name="Demo")
        session.add(organization)
    project = session.scalar(repository.project_in(repository.InOrganization(organization.id), "default"))
    if project is None:
        project = Project(id=new_id("prj"), organization_id=organization.id, slug="default", name="Default")
        session.add(project)
    membership = session.scalar(repository.membership_of(organization.id, operator.id))
    if membership is None:
        session.add(
            Membership(
                id=new_id("mem"),
                organization_id=organization.id,
                user_id=operator.id,
                role=Role.OWNER,
            )
        )
    session.flush()

    live = session.scalars(repository.tokens_named(operator.id, BOOTSTRAP_TOKEN_NAME)).all()
    generated: str | None = None
    token_file: Path | None = None
    if settings.bootstrap_token is not None:
        wanted = hash_token(settings.bootstrap_token.get_secret_value())
        for token in live:  # the environment is authoritative: an older bootstrap token stops working
            if token.token_hash != wanted:
                token.revoked_at = utcnow()
        if not any(token.token_hash == wanted for token in live):
            _add_bootstrap_token(session, operator.id, settings.bootstrap_token.get_secret_value())
    elif not live:
        generated = generate_token()
        _add_bootstrap_token(session, operator.id, generated)
        token_file = settings.data_dir / BOOTSTRAP_TOKEN_FILE
        write_private(token_file, (generated + "\n").encode())
    else:
        token_file = settings.data_dir / BOOTSTRAP_TOKEN_FILE
    session.commit()
    return BootstrapResult(organization.slug, project.slug, generated, token_file)


def _add_bootstrap_token(session: Session, user_id: str, token: str) -> None:
    session.add(
        ApiToken(
            id=new_id("tok"),
            user_id=user_id,
            kind="personal",
            name=BOOTSTRAP_TOKEN_NAME,
            prefix=token_prefix(token),
            token_hash=hash_token(token),
        )
    )


def issue_user_token(
    session: Session, email: str, name: str, expires_in_days: int | None
) -> tokens.IssuedToken:
    """An installation-side way in for a user who has no token yet (``loopback admin token``)."""
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise Invalid.field("email", "an email address such as ada@example.com")
    user = session.scalar(repository.user_by_email(email))
    if user is None:
        user = User(id=new_id("usr"), email=email)
        session.add(user)
        session.flush()
    issued = tokens.issue(session, user.id, "personal", name, None, expires_in_days)
    session.commit()
    return issued
