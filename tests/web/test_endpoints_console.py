"""The console over HTTP: its session cookie, CSRF, the permission table, refusals shown on pages."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from loopback.app import create_app
from loopback.buckets.models import Bucket
from loopback.kit.clock import utcnow
from loopback.runtime import Runtime
from loopback.tenancy.models import AuditEvent
from loopback.web.humane import human_bytes, relative_time
from loopback.web.session import SESSION_COOKIE
from tests.conftest import BUCKETS, create_ready_bucket, unique_bucket_name, wait_for
from tests.factories import member_of, member_token, organization
from tests.web.conftest import OPERATOR_TOKEN, csrf_of, sign_in

PROJECT = "/console/demo/default"


def set_cookie_headers(response: Any) -> list[str]:
    return [value for key, value in response.headers.multi_items() if key.lower() == "set-cookie"]


def session_cookie_header(response: Any) -> str:
    [header] = [h for h in set_cookie_headers(response) if h.startswith(SESSION_COOKIE + "=")]
    return header


def errors_of(html: str, field: str) -> list[str]:
    """The messages listed right under a field (its ``<ul id="FIELD-errors">``)."""
    found = re.search(rf'<ul class="field-errors" id="{field}-errors"[^>]*>(.*?)</ul>', html, re.S)
    assert found is not None, f"no error list next to field {field!r}"
    return [
        re.sub(r"<[^>]+>", "", item).strip() for item in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)
    ]


def bucket_rows(runtime: Runtime) -> list[Bucket]:
    with runtime.db.session() as session:
        return list(session.scalars(select(Bucket)))


def create_through_form(console: TestClient, csrf: str, name: str) -> str:
    response = console.post(
        f"{PROJECT}/buckets",
        data={"csrf": csrf, "name": name, "provider": "local", "region": "local-1"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    return location


def bucket_status(console: TestClient, bucket_id: str) -> str:
    response = console.get(f"/console/_api/demo/default/buckets/{bucket_id}/status")
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


# --- session cookie and CSRF ------------------------------------------------------------------------


def test_the_session_cookie_is_sealed_httponly_strict_and_scoped_to_the_console(
    console: TestClient, runtime: Runtime
) -> None:
    page = console.get("/console/sign-in")
    anonymous = session_cookie_header(page)
    flags = [part.strip().lower() for part in anonymous.split(";")[1:]]
    assert {"httponly", "path=/console", "samesite=strict"} <= set(flags)
    assert "secure" not in flags  # plain http here; https below

    signed = console.post(
        "/console/sign-in", data={"csrf": csrf_of(page.text), "token": OPERATOR_TOKEN}, follow_redirects=False
    )
    assert signed.status_code == 303
    header = session_cookie_header(signed)
    value = header.split(";")[0].split("=", 1)[1]
    assert OPERATOR_TOKEN not in header
    assert OPERATOR_TOKEN.encode() in runtime.secrets.decrypt(value.encode())  # sealed with the store's keys
    assert {"httponly", "path=/console", "samesite=strict"} <= {p.strip().lower() for p in header.split(";")}
    # signing in gives the session a new CSRF token: one learnt before it is worth nothing after
    assert csrf_of(console.get(PROJECT).text) != csrf_of(page.text)


def test_over_https_the_session_cookie_is_secure(runtime: Runtime, worker: None) -> None:
    with TestClient(create_app(runtime), base_url="https://testserver") as secure:
        flags = session_cookie_header(secure.get("/console/sign-in")).lower()
    assert "; secure" in flags


def test_pages_send_a_visitor_without_a_session_to_sign_in(console: TestClient) -> None:
    response = console.get(f"{PROJECT}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/sign-in?next={PROJECT}"
    sign_in_page = console.get(response.headers["location"])
    csrf = csrf_of(sign_in_page.text)
    signed = console.post(
        "/console/sign-in",
        data={"csrf": csrf, "token": OPERATOR_TOKEN, "next": PROJECT},
        follow_redirects=False,
    )
    assert signed.headers["location"] == PROJECT


def test_sign_in_goes_nowhere_outside_the_console(console: TestClient) -> None:
    csrf = csrf_of(console.get("/console/sign-in").text)
    for target in ("https://elsewhere.example/", "//elsewhere.example/console/x", "/v3/user"):
        response = console.post(
            "/console/sign-in",
            data={"csrf": csrf, "token": OPERATOR_TOKEN, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/console", target
        csrf = csrf_of(console.get(PROJECT).text)  # signing in gave the session a new one


def test_a_bad_token_is_refused_next_to_the_token_field(console: TestClient) -> None:
    csrf = csrf_of(console.get("/console/sign-in").text)
    response = console.post("/console/sign-in", data={"csrf": csrf, "token": "lbk_not-a-token"})
    assert response.status_code == 401
    assert errors_of(response.text, "token") == ["the token is unknown, revoked or expired"]
    assert 'aria-invalid="true"' in response.text
    assert console.get(PROJECT, follow_redirects=False).status_code == 303  # still signed out
    empty = console.post("/console/sign-in", data={"csrf": csrf, "token": ""})
    assert empty.status_code == 422
    assert errors_of(empty.text, "token") == ["paste an API token; it starts with lbk_"]


def test_every_post_needs_the_sessions_csrf_token(console: TestClient, runtime: Runtime) -> None:
    csrf = sign_in(console)
    form = {"name": unique_bucket_name(), "provider": "local", "region": "local-1"}
    missing = console.post(f"{PROJECT}/buckets", data=form)
    wrong = console.post(f"{PROJECT}/buckets", data={**form, "csrf": "x" + csrf})
    as_json = console.post(f"{PROJECT}/buckets", json={**form, "csrf": csrf})
    for refused in (missing, wrong, as_json):
        assert refused.status_code == 403
        assert "This form cannot be accepted" in refused.text
    assert bucket_rows(runtime) == []
    assert console.post("/console/sign-out", data={}).status_code == 403
    assert console.get(PROJECT, follow_redirects=False).status_code == 200  # not signed out


def test_a_csrf_token_from_another_session_is_refused(runtime: Runtime, worker: None) -> None:
    app = create_app(runtime)
    with TestClient(app) as mine, TestClient(app) as theirs:
        sign_in(mine)
        their_csrf = sign_in(theirs)
        response = mine.post(
            f"{PROJECT}/buckets",
            data={"csrf": their_csrf, "name": unique_bucket_name(), "provider": "local", "region": "local-1"},
        )
        assert response.status_code == 403
        check = mine.post("/console/_api/demo/default/buckets/check", data={"csrf": their_csrf, "name": "x"})
        assert check.status_code == 403
        assert check.json()["title"] == "This form cannot be accepted"


def test_a_cookie_edited_by_hand_is_no_session(console: TestClient) -> None:
    sign_in(console)
    value = console.cookies.get(SESSION_COOKIE, path="/console")
    assert value
    console.cookies.set(SESSION_COOKIE, value[:-4] + "AAAA", path="/console")
    response = console.get(PROJECT, follow_redirects=False)
    assert response.status_code == 303
    assert "ended=1" in response.headers["location"]


def test_signing_out_forgets_the_session_but_not_the_token(console: TestClient, client: TestClient) -> None:
    csrf = sign_in(console)
    response = console.post("/console/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    cleared = session_cookie_header(response).lower()
    assert "max-age=0" in cleared
    assert "path=/console" in cleared
    assert console.get(PROJECT, follow_redirects=False).status_code == 303
    assert "You are signed out" in console.get(response.headers["location"]).text
    assert client.get("/v3/user").status_code == 200


def test_a_revoked_token_ends_the_session(console: TestClient, client: TestClient, runtime: Runtime) -> None:
    made = client.post("/v3/user/tokens", json={"name": "console"})
    assert made.status_code == 201, made.text
    sign_in(console, made.json()["token"])
    assert console.get(PROJECT).status_code == 200
    assert client.delete(f"/v3/user/tokens/{made.json()['id']}").status_code in (200, 204)
    response = console.get(PROJECT, follow_redirects=False)
    assert response.status_code == 303
    assert "ended=1" in response.headers["location"]
    assert "Your console session ended" in console.get(response.headers["location"]).text


# --- the permission table, as the API enforces it -----------------------------------------------------


def test_another_organizations_bucket_answers_404(
    console: TestClient, client: TestClient, runtime: Runtime
) -> None:
    bucket = create_ready_bucket(client)
    with runtime.db.session() as session:
        other = organization(session, "other")
        token = member_token(session, other, "owner")
    sign_in(console, token)
    for path in (
        f"{PROJECT}/buckets/{bucket['id']}",
        f"/console/other/default/buckets/{bucket['id']}",
        f"{PROJECT}",
        f"{PROJECT}/buckets/{bucket['id']}/delete",
    ):
        response = console.get(path)
        assert response.status_code == 404, path
        assert "Not found" in response.text
        assert bucket["name"] not in response.text
    assert console.get(f"/console/_api/demo/default/buckets/{bucket['id']}/status").status_code == 404
    assert console.get("/console/other/default").status_code == 200


def test_a_viewer_sees_no_create_form_and_a_create_is_refused_403(
    console: TestClient, client: TestClient, runtime: Runtime
) -> None:
    bucket = create_ready_bucket(client)
    viewer = member_of(runtime, "viewer")["Authorization"].removeprefix("Bearer ")
    csrf = sign_in(console, viewer)
    listing = console.get(PROJECT)
    assert listing.status_code == 200
    assert bucket["name"] in listing.text
    assert "Create bucket" not in listing.text
    assert f"{PROJECT}/buckets/new" not in listing.text

    form_page = console.get(f"{PROJECT}/buckets/new")
    assert form_page.status_code == 403
    assert "buckets.create" in form_page.text
    refused = console.post(
        f"{PROJECT}/buckets",
        data={"csrf": csrf, "name": unique_bucket_name(), "provider": "local", "region": "local-1"},
    )
    assert refused.status_code == 403
    assert "Not allowed" in refused.text
    assert "Role &#39;viewer&#39; does not grant &#39;buckets.create&#39;" in refused.text
    assert len(bucket_rows(runtime)) == 1
    with runtime.db.session() as session:  # refused like the API's: one audit event, denied
        denied = session.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied")).all()
    assert [(e.action, e.target) for e in denied] == [("buckets.create", f"{PROJECT}/buckets")]

    page = console.get(f"{PROJECT}/buckets/{bucket['id']}")  # a viewer reads it, and changes nothing
    assert page.status_code == 200
    for offer in ("Issue a key", "Delete bucket", "Revoke", "Sync usage now"):
        assert offer not in page.text
    assert (
        console.post(f"{PROJECT}/buckets/{bucket['id']}/credentials", data={"csrf": csrf}).status_code == 403
    )
    delete = console.post(
        f"{PROJECT}/buckets/{bucket['id']}/delete", data={"csrf": csrf, "confirm_name": bucket["name"]}
    )
    assert delete.status_code == 403


# --- creating, with errors next to the fields ---------------------------------------------------------


def test_a_refused_create_shows_each_error_next_to_its_field_and_keeps_the_values(
    console: TestClient, runtime: Runtime
) -> None:
    csrf = sign_in(console)
    response = console.post(
        f"{PROJECT}/buckets",
        data={
            "csrf": csrf,
            "name": "Bad_Name",
            "provider": "local",
            "region": "mars-1",
            "deletion_policy": "retain",
        },
    )
    assert response.status_code == 422
    assert errors_of(response.text, "name") == ["may hold only lowercase letters, digits, hyphens and dots"]
    assert errors_of(response.text, "region") == ["provider &#39;local&#39; has no region &#39;mars-1&#39;"]
    assert errors_of(response.text, "provider") == []
    assert 'value="Bad_Name"' in response.text
    assert re.search(r'value="retain" checked', response.text)
    assert "The bucket was not created" in response.text
    assert bucket_rows(runtime) == []


def test_a_taken_name_is_a_409_next_to_the_name(console: TestClient, client: TestClient) -> None:
    bucket = create_ready_bucket(client)
    csrf = sign_in(console)
    response = console.post(
        f"{PROJECT}/buckets",
        data={"csrf": csrf, "name": bucket["name"], "provider": "local", "region": "local-1"},
    )
    assert response.status_code == 409
    [message] = errors_of(response.text, "name")
    assert message == (
        f"a bucket named &#39;{bucket['name']}&#39; already exists at provider &#39;local&#39;; "
        "choose another name"
    )


def test_the_check_as_you_type_answers_each_fields_problems(console: TestClient, client: TestClient) -> None:
    csrf = sign_in(console)
    check = "/console/_api/demo/default/buckets/check"
    bad = console.post(check, data={"csrf": csrf, "name": "ab", "provider": "nowhere", "region": "x"})
    assert bad.status_code == 200
    assert bad.json()["valid"] is False
    assert bad.json()["errors"] == {
        "name": ["must be 3 to 63 characters long, not 2"],
        "provider": ["no provider named 'nowhere'"],
    }
    name = unique_bucket_name()
    good = console.post(check, data={"csrf": csrf, "name": name, "provider": "local", "region": "local-1"})
    assert good.json()["valid"] is True
    assert good.json()["endpoint"].startswith("http://127.0.0.1:")
    taken = create_ready_bucket(client)["name"]
    assert (
        "already exists"
        in console.post(
            check, data={"csrf": csrf, "name": taken, "provider": "local", "region": "local-1"}
        ).json()["errors"]["name"][0]
    )


# --- a bucket's life in the console --------------------------------------------------------------------


def test_create_follow_issue_see_the_secret_once_and_delete(
    console: TestClient, runtime: Runtime, operator_s3: Any
) -> None:
    csrf = sign_in(console)
    form_page = console.get(f"{PROJECT}/buckets/new")
    assert 'data-check="/console/_api/demo/default/buckets/check"' in form_page.text
    assert '<option value="local-1" selected>' in form_page.text  # fed by the regions helper

    name = unique_bucket_name("console")
    location = create_through_form(console, csrf, name)
    bucket_id = location.rsplit("/", 1)[1]
    assert wait_for(lambda: bucket_status(console, bucket_id) == "ready")
    page = console.get(location)
    assert 'http-equiv="refresh"' not in page.text  # nothing on its way: no reloading
    assert "data-poll" not in page.text
    assert "Issue a key" in page.text

    issued = console.post(f"{location}/credentials", data={"csrf": csrf}, follow_redirects=False)
    assert issued.status_code == 303
    assert issued.headers["location"] == f"{location}#keys"
    once = console.get(location)
    secret = re.search(r'<code id="new-secret" class="secret">([^<]+)</code>', once.text)
    assert secret is not None
    assert "it is shown this once" in once.text
    assert f'aws_secret_access_key="{secret.group(1)}"' in html.unescape(once.text)  # the snippets too
    assert once.headers["cache-control"] == "no-store"

    again = console.get(location)
    assert secret.group(1) not in again.text  # a reload finds it gone
    assert 'class="masked"' in again.text
    assert "&lt;the secret shown when the key was issued&gt;" in again.text

    operator_s3.put_object(Bucket=name, Key="hello.txt", Body=b"hello\n")
    wrong = console.post(f"{location}/delete", data={"csrf": csrf, "confirm_name": name + "x"})
    assert wrong.status_code == 422
    assert errors_of(wrong.text, "confirm_name") == [
        f"type the bucket&#39;s name, {name}, exactly to confirm"
    ]
    held = console.post(f"{location}/delete", data={"csrf": csrf, "confirm_name": name})
    assert held.status_code == 409
    assert f"Bucket &#39;{name}&#39; holds 1 object." in held.text
    assert "Empty it first" in held.text
    assert f'value="{name}"' in held.text  # the typed name is kept for the second try

    deleted = console.post(
        f"{location}/delete",
        data={"csrf": csrf, "confirm_name": name, "force": "yes"},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    assert deleted.headers["location"] == location
    assert wait_for(lambda: bucket_status(console, bucket_id) == "deleted")
    assert "was deleted" in console.get(location).text
    listing = console.get(PROJECT)
    assert name not in listing.text
    assert "1 deleted bucket hidden" in listing.text
    assert name in console.get(f"{PROJECT}?deleted=1").text


def test_a_bucket_on_its_way_reloads_itself_without_a_script(idle_console: TestClient) -> None:
    csrf = sign_in(idle_console)
    location = create_through_form(idle_console, csrf, unique_bucket_name())
    bucket_id = location.rsplit("/", 1)[1]
    page = idle_console.get(location)
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page.text
    assert f'data-poll="/console/_api/demo/default/buckets/{bucket_id}/status"' in page.text
    assert "<progress" in page.text
    assert "This page updates by itself" in page.text
    assert "Keys are issued once the bucket is ready" in page.text
    listing = idle_console.get(PROJECT)
    assert 'http-equiv="refresh"' in listing.text
    assert 'data-poll="/console/_api/demo/default/status"' in listing.text
    state = idle_console.get("/console/_api/demo/default/status").json()
    assert state == {"state": f"{bucket_id}:pending", "busy": True}


def test_a_key_is_revoked_behind_a_confirmation(console: TestClient, client: TestClient) -> None:
    bucket = create_ready_bucket(client)
    csrf = sign_in(console)
    location = f"{PROJECT}/buckets/{bucket['id']}"
    console.post(f"{location}/credentials", data={"csrf": csrf})
    page = console.get(location)
    [credential_id] = re.findall(r'data-key="(crd_[0-9a-f]+)"', page.text)
    assert '<summary class="button tiny danger-outline">Revoke…</summary>' in page.text  # no script needed
    assert "Revoke this key" in page.text
    revoked = console.post(
        f"{location}/credentials/{credential_id}/revoke", data={"csrf": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    after = console.get(revoked.headers["location"])
    assert "is revoked; it stopped working at once" in after.text
    keys = client.get(f"{BUCKETS}/{bucket['id']}/credentials").json()["credentials"]
    assert [k["status"] for k in keys] == ["revoked"]


def test_issuing_for_a_bucket_that_is_not_ready_says_why(idle_console: TestClient) -> None:
    csrf = sign_in(idle_console)
    location = create_through_form(idle_console, csrf, unique_bucket_name())
    response = idle_console.post(
        f"{location}/credentials", data={"csrf": csrf}, headers={"Referer": f"http://testserver{location}"}
    )
    assert response.status_code == 409
    assert "Credentials are issued for ready buckets; this one is pending." in response.text
    assert f'href="{location}"' in response.text  # back to the page the form was on


def test_the_list_shows_usage_in_binary_units_and_the_last_sync_as_a_relative_time(
    console: TestClient, client: TestClient, runtime: Runtime
) -> None:
    bucket = create_ready_bucket(client)
    synced = utcnow() - timedelta(minutes=3, seconds=5)
    with runtime.db.session() as session:
        row = session.get(Bucket, bucket["id"])
        assert row is not None
        row.object_count, row.bytes, row.last_synced_at = 1234, 3 * 1024 * 1024 // 2, synced
    sign_in(console)
    listing = console.get(PROJECT).text
    row_html = listing[listing.index(f'data-bucket="{bucket["id"]}"') :]
    assert "1,234" in row_html
    assert "1.5 MiB" in row_html
    assert f'title="{synced.strftime("%Y-%m-%d %H:%M:%S UTC")}">3 minutes ago</time>' in row_html
    assert "status-ready" in row_html
    assert "<td>local</td>" in row_html
    assert "<td>local-1</td>" in row_html


def test_the_header_switches_between_the_callers_projects(
    console: TestClient, client: TestClient, runtime: Runtime
) -> None:
    assert client.post("/v3/organizations/demo/projects", json={"slug": "analytics"}).status_code == 201
    sign_in(console)
    page = console.get(PROJECT).text
    assert '<option value="demo/analytics">' in page
    assert '<option value="demo/default" selected>' in page
    switched = console.get("/console/switch", params={"to": "demo/analytics"}, follow_redirects=False)
    assert switched.headers["location"] == "/console/demo/analytics"
    assert '<option value="demo/analytics" selected>' in console.get("/console/demo/analytics").text


def test_console_responses_allow_no_outside_script_and_are_never_cached(console: TestClient) -> None:
    page = console.get("/console/sign-in")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text  # no inline script: the policy would block it
    assert "style=" not in page.text
    stylesheet = re.search(r'href="(/console/_static/console\.css\?v=\w+)"', page.text)
    assert stylesheet is not None
    css = console.get(stylesheet.group(1))
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert console.get("/console/_static/../app.py").status_code == 404
    assert console.get("/console/_static/secret.key").status_code == 404


# --- the units and times a person reads ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (None, "—"),
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (5 * 1024**3, "5.0 GiB"),
    ],
)
def test_sizes_read_in_binary_units(size: int | None, shown: str) -> None:
    assert human_bytes(size) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (3, "just now"),
        (42, "42 seconds ago"),
        (60, "1 minute ago"),
        (185, "3 minutes ago"),
        (7200, "2 hours ago"),
        (86400 * 3, "3 days ago"),
    ],
)
def test_times_read_as_how_long_ago(seconds: int, shown: str) -> None:
    now = utcnow()
    assert relative_time(now - timedelta(seconds=seconds), now) == shown
    assert relative_time(None) == "never"
