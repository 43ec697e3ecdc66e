"""The console's organization pages (billing) decide their scope from the caller's reach as the API's
``organization_scope`` does, and the header offers the billing link exactly where it would admit."""

from __future__ import annotations

import itertools
from functools import partial

from loopback.runtime import Runtime
from loopback.tenancy.access import organization_scope
from loopback.tenancy.permissions import PERMISSIONS, Scope, permission
from loopback.web.dependencies import organizations_granting, read_reach, resolve_organization
from tests.web.test_service_scope import PATHS, _outcome, _world

ORGANIZATIONS = tuple(dict.fromkeys(org for org, _ in PATHS))


def test_an_organization_pages_scope_is_the_apis_for_every_caller_and_permission(runtime: Runtime) -> None:
    entries = [entry for entry in PERMISSIONS.values() if entry.scope is Scope.ORGANIZATION]
    billing = permission("billing.read")
    with runtime.db.session() as session:
        principals = _world(session)
        session.commit()
        checked = admitted = 0
        for principal in principals:
            reach = read_reach(session, principal)
            for org, entry in itertools.product(ORGANIZATIONS, entries):
                expected = _outcome(partial(organization_scope, session, principal, org, entry))
                assert _outcome(partial(resolve_organization, reach, principal, org, entry)) == expected
                narrow = read_reach(session, principal, org)
                assert _outcome(partial(resolve_organization, narrow, principal, org, entry)) == expected
                checked += 1
                admitted += not isinstance(expected, tuple)
            offered = organizations_granting(reach, principal, billing.name)
            assert offered == {
                org
                for org in ORGANIZATIONS
                if not isinstance(
                    _outcome(partial(organization_scope, session, principal, org, billing)), tuple
                )
            }, principal
        assert admitted > 0
        assert checked - admitted > 0
