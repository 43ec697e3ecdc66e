"""Issuing a key from a console form, and the one page view that shows its secret.

The POST that issues a key answers with a redirect; the secret waits for the next view of one
page (a bucket's, or a project's keys page) in a short, sealed cookie, and is gone after it.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Response

from loopback.credentials.schemas import handover
from loopback.credentials.service import CredentialView
from loopback.kit.errors import Invalid, NotFound
from loopback.tenancy.access import ProjectScope
from loopback.web.dependencies import Console, Posted
from loopback.web.forms import KeyForm
from loopback.web.session import ShownOnce, hand_over_once
from loopback.web.snippets import Snippet, handover_snippets


def issue(
    console: Console, scope: ProjectScope, values: KeyForm, bucket_ids: Sequence[str], grant_field: str
) -> tuple[CredentialView, str]:
    problems = values.problems()
    if any(problem.field == "expires_in_days" for problem in problems):
        raise Invalid(problems)  # the one field the service never sees as typed; it checks the rest
    return console.runtime.credentials.issue_and_commit(
        console.session, scope, values.request(bucket_ids, grant_field)
    )


def hand_over(
    console: Console, form: Posted, response: Response, place: str, issued: CredentialView, secret: str
) -> None:
    """Keep the new secret for the next view of ``place`` only (sealed in a short, small cookie)."""
    credential = issued.credential
    shown = ShownOnce(place, credential.id, credential.access_key_id, secret)
    hand_over_once(console.runtime.secrets, console.request, response, form.visit, shown)


def handover_formats(
    console: Console, scope: ProjectScope, shown: ShownOnce | None, listed: Sequence[CredentialView]
) -> list[Snippet]:
    """The shown key's files for each tool, from its record: the page lists it already, mostly."""
    if shown is None:
        return []
    view = next((v for v in listed if v.credential.id == shown.credential_id), None)
    if view is None:
        try:
            view = console.runtime.credentials.get(console.session, scope, shown.credential_id)
        except NotFound:
            return []
    if view.credential.access_key_id != shown.access_key_id:
        return []
    try:
        return handover_snippets(handover(view, shown.secret))
    except ValueError:  # no endpoint or no bucket left to name: the secret alone is shown
        return []
