"""Console fixtures: a browser-like client with no Authorization header, and signing in through the form."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from loopback.app import create_app
from loopback.runtime import Runtime

OPERATOR_TOKEN = "lbk_test-operator-token"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(console: TestClient, token: str = OPERATOR_TOKEN) -> str:
    """Sign in through the form as a person would; returns the session's CSRF token."""
    page = console.get("/console/sign-in")
    response = console.post(
        "/console/sign-in", data={"csrf": csrf_of(page.text), "token": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return csrf_of(console.get("/console").text)  # every signed-in page has the sign-out form


@pytest.fixture
def console(runtime: Runtime, worker: None) -> Iterator[TestClient]:
    """The app over ASGI as a browser reaches the console: cookies only, no API token header."""
    with TestClient(create_app(runtime), base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def idle_console(runtime: Runtime) -> Iterator[TestClient]:
    """The console with no worker running: a new bucket stays pending for as long as a test looks."""
    with TestClient(create_app(runtime), base_url="http://testserver") as test_client:
        yield test_client
