"""The console's organization pages (billing) decide their scope from the caller's reach as the API's
``organization_scope`` does, and the header offers the billing link exactly where it would admit."""

from __future__ import annotations

from functools import partial

from loopback.runtime import Runtime
from loopback.tenancy.access import admit_organization, organization_scope, resolve_reach
from loopback.tenancy.permissions import PERMISSIONS, Scope, permission
from loopback.web.dependencies import organizations_granting, read_reach, resolve_organization
from tests.web.test_service_scope import PATHS, _outcome, _world

ORGANIZATIONS = tuple(dict.fromkeys(org for org, _ in PATHS))


def test_an_organization_pages_scope_is_the_apis_for_every_caller_and_permission(runtime: Runtime) -> None:
    """``organization_scope`` is ``admit_organization`` over ``resolve_reach``: the reach is read once
    per caller and organization (as a request reads it once) and admitted for every permission, and
    ``organization_scope`` itself is asked once per caller and organization to hold the two alike."""
    entries = [entry for entry in PERMISSIONS.values() if entry.scope is Scope.ORGANIZATION]
    billing = permission("billing.read")
    with runtime.db.session() as session:
        principals = _world(session)
        session.commit()
        checked = admitted = 0
        for principal in principals:
            reach = read_reach(session, principal)
            granting_billing: set[str] = set()
            for org in ORGANIZATIONS:
                narrow = read_reach(session, principal, org)  # a page reads it once
                resolved = _outcome(partial(resolve_reach, session, principal, org, None))
                for entry in entries:
                    expected = (
                        resolved
                        if isinstance(resolved, tuple)
                        else _outcome(partial(admit_organization, principal, resolved, entry))
                    )
                    if entry is entries[0] or entry is billing:  # the API's own check, asked as is
                        api = _outcome(partial(organization_scope, session, principal, org, entry))
                        assert api == expected
                    assert _outcome(partial(resolve_organization, reach, principal, org, entry)) == expected
                    assert _outcome(partial(resolve_organization, narrow, principal, org, entry)) == expected
                    checked += 1
                    admitted += not isinstance(expected, tuple)
                    if entry is billing and not isinstance(expected, tuple):
                        granting_billing.add(org)
            assert organizations_granting(reach, principal, billing.name) == granting_billing, principal
        assert admitted > 0
        assert checked - admitted > 0
