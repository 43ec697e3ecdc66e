"""``loopback members list|add|set-role|remove``: an organization's members (``--org``) and their roles."""

from __future__ import annotations

from typing import Annotated

import typer

from loopback.client.options import YES, Options, with_options
from loopback.tenancy.cli.columns import MEMBER
from loopback.tenancy.cli.options import ORG, ROLES, in_org

MemberArgument = Annotated[str, typer.Argument(help="the member's email or membership id")]


@with_options(ORG)
def list_members(options: Options) -> None:
    """Everyone in the organization, with their role."""
    with options.api() as client:
        answer = client.get(in_org(options, "members"))
    options.printer().rows(answer, "members", MEMBER, f"No members in {options.org!r}.")


@with_options(ORG)
def add_member(
    options: Options,
    email: Annotated[
        str, typer.Argument(help="their email; a user without a token gets one from the operator")
    ],
    role: Annotated[str, typer.Option(help=ROLES, show_default=False)],
) -> None:
    """Add someone by email with a role; only an owner may add an owner."""
    with options.api() as client:
        answer = client.post(in_org(options, "members"), {"email": email, "role": role})
    options.printer().record(answer, MEMBER)


@with_options(ORG)
def set_member_role(
    options: Options, member: MemberArgument, role: Annotated[str, typer.Argument(help=ROLES)]
) -> None:
    """Change a member's role; the last owner cannot be demoted."""
    with options.api() as client:
        answer = client.patch(in_org(options, "members", member), {"role": role})
    options.printer().record(answer, MEMBER)


@with_options(ORG, YES)
def remove_member(options: Options, member: MemberArgument) -> None:
    """Remove a member and revoke their project tokens here; the last owner cannot be removed."""
    options.confirm(f"Remove {member} from {options.org!r} and revoke their project tokens there?")
    with options.api() as client:
        answer = client.delete(in_org(options, "members", member))
    show = options.printer()
    show.record(answer, MEMBER)
    show.note(f"Removed {answer.body.get('email', member)} from {options.org!r}.")
