"""The console's keys: named keys with a mode, prefix and expiry from a bucket's page, the project's
keys page (one key over several buckets, rotation, revocation), and the handover files shown once."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from loopback.buckets.models import Bucket
from loopback.credentials.formats import FORMATS, Handover, render
from loopback.credentials.models import Credential
from loopback.kit.clock import utcnow
from loopback.runtime import Runtime
from loopback.tenancy.models import Organization
from loopback.web.humane import time_until
from loopback.web.session import ONCE_COOKIE
from tests.conftest import BUCKETS, create_ready_bucket, wait_for
from tests.factories import member_of, member_token
from tests.web.conftest import sign_in
from tests.web.test_endpoints_console import errors_of, set_cookie_headers

PROJECT = "/console/demo/default"
KEYS_PAGE = f"{PROJECT}/keys"
API_KEYS = "/v3/organizations/demo/projects/default/credentials"
SECRET = re.compile(r'<code id="new-secret" class="secret">([^<]+)</code>')
ACCESS_KEY = re.compile(r'<code id="new-access-key">([^<]+)</code>')


# --- helpers --------------------------------------------------------------------------------------------


def shown_secret(page: str) -> tuple[str, str]:
    """The access key id and secret a page shows once."""
    key, secret = ACCESS_KEY.search(page), SECRET.search(page)
    assert key is not None, "the page shows no new key"
    assert secret is not None, "the page shows no new secret"
    return html.unescape(key.group(1)), html.unescape(secret.group(1))


def format_text(page: str, fmt: str) -> str:
    found = re.search(rf'<code id="format-{fmt}">(.*?)</code>', page, re.S)
    assert found is not None, f"no {fmt} file on the page"
    return html.unescape(found.group(1))


def key_row(page: str, credential_id: str) -> str:
    found = re.search(rf'<tr id="key-{credential_id}".*?</tr>', page, re.S)
    assert found is not None, f"no row for {credential_id}"
    return found.group(0)


def s3_with(endpoint: str, access_key_id: str, secret: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret,
        region_name="local-1",
    )


def wait_until_known(s3: Any, bucket: str) -> None:
    """SeaweedFS learns a new key within moments; until then it answers InvalidAccessKeyId."""

    def known() -> bool:
        try:
            s3.head_object(Bucket=bucket, Key="never-there")
        except ClientError as error:
            return error.response["Error"]["Code"] != "InvalidAccessKeyId"
        return True

    wait_for(known, timeout=15, interval=0.2)


def denied(call: Any) -> bool:
    try:
        call()
    except ClientError as error:
        code = error.response["Error"]["Code"]
    else:
        return False
    assert code in {"AccessDenied", "403", "Forbidden"}, f"not a denial: {code}"
    return True


def api_keys(client: TestClient) -> dict[str, dict[str, Any]]:
    return {k["id"]: k for k in client.get(API_KEYS).json()["credentials"]}


_COUNTING: ContextVar[object | None] = ContextVar("counting", default=None)


@contextmanager
def counted(runtime: Runtime) -> Iterator[list[str]]:
    """Every SQL statement the block's own calls send, in whichever thread they run.

    Only statements sent in the block's context count: a TestClient request carries it into the
    app's threads, and the worker's threads do not have it. Counting every statement on the engine
    also counted what the in-process worker ran meanwhile: CI once saw a page cost 13 statements
    for 10, and here the worker's webhook relay was caught polling inside the block.
    """
    statements: list[str] = []
    marker = object()

    def count(*args: Any) -> None:
        if _COUNTING.get() is marker:
            statements.append(args[2])

    event.listen(runtime.db.engine, "before_cursor_execute", count)
    reset = _COUNTING.set(marker)
    try:
        yield statements
    finally:
        _COUNTING.reset(reset)
        event.remove(runtime.db.engine, "before_cursor_execute", count)


# --- the bucket page's key form -----------------------------------------------------------------------


def test_a_named_read_only_key_from_the_bucket_page_is_read_only_at_seaweedfs(
    console: TestClient, client: TestClient, operator_s3: Any
) -> None:
    bucket = create_ready_bucket(client)
    operator_s3.put_object(Bucket=bucket["name"], Key="seed.txt", Body=b"seed\n")
    csrf = sign_in(console)
    location = f"{PROJECT}/buckets/{bucket['id']}"
    page = console.get(location).text
    assert (
        '<option value="read-write" selected>read-write: get, put, delete and list objects</option>' in page
    )
    assert '<option value="read-only">read-only: get and list objects; no put, no delete</option>' in page
    assert '<option value="write-only">' in page
    for field in ("name", "prefix", "expires_in_days"):
        assert f'name="{field}"' in page
    assert f'href="{KEYS_PAGE}"' in page

    issued = console.post(
        f"{location}/credentials",
        data={
            "csrf": csrf,
            "name": "nightly reader",
            "access": "read-only",
            "prefix": "",
            "expires_in_days": "",
        },
        follow_redirects=False,
    )
    assert issued.status_code == 303, issued.text
    page = console.get(location).text
    access_key_id, secret = shown_secret(page)
    [credential] = api_keys(client).values()
    assert credential["name"] == "nightly reader"
    assert credential["access_key_id"] == access_key_id
    assert credential["grants"] == [
        {"bucket_id": bucket["id"], "bucket": bucket["name"], "access": "read-only", "prefix": None}
    ]
    assert credential["expires_at"] is None
    row = page[page.index(f'data-key="{credential["id"]}"') :]
    assert "nightly reader" in row
    assert '<span class="mode mode-read-only">read-only</span>' in row

    s3 = s3_with(bucket["endpoint"], access_key_id, secret)
    wait_until_known(s3, bucket["name"])
    assert s3.get_object(Bucket=bucket["name"], Key="seed.txt")["Body"].read() == b"seed\n"
    assert denied(lambda: s3.put_object(Bucket=bucket["name"], Key="new.txt", Body=b"no"))
    assert denied(lambda: s3.delete_object(Bucket=bucket["name"], Key="seed.txt"))


def test_a_prefix_and_an_expiry_from_the_bucket_page(console: TestClient, client: TestClient) -> None:
    bucket = create_ready_bucket(client)
    csrf = sign_in(console)
    location = f"{PROJECT}/buckets/{bucket['id']}"
    form = {"csrf": csrf, "access": "write-only", "prefix": "uploads/", "expires_in_days": "30"}
    assert console.post(f"{location}/credentials", data=form, follow_redirects=False).status_code == 303
    [credential] = api_keys(client).values()
    assert credential["name"] == f"key for {bucket['name']}"  # no name given: the service's default
    assert credential["grants"][0]["access"] == "write-only"
    assert credential["grants"][0]["prefix"] == "uploads/"
    expires = credential["expires_at"]
    assert expires is not None
    page = console.get(location).text  # the secret view
    assert '<span class="mode mode-write-only">write-only</span>' in page
    assert "<code>uploads/</code>" in page
    assert ">in 29 days</time>" in page or ">in 30 days</time>" in page


def test_a_bad_prefix_is_shown_beside_the_prefix_field_and_issues_nothing(
    console: TestClient, client: TestClient
) -> None:
    bucket = create_ready_bucket(client)
    csrf = sign_in(console)
    location = f"{PROJECT}/buckets/{bucket['id']}"
    refused = console.post(
        f"{location}/credentials",
        data={
            "csrf": csrf,
            "name": "mine",
            "access": "read-only",
            "prefix": "/logs*",
            "expires_in_days": "0",
        },
    )
    assert refused.status_code == 422
    assert errors_of(refused.text, "prefix") == [
        "a prefix does not start with &#39;/&#39;: S3 keys have no leading slash",
        "a prefix is literal: no * ? $ \\ quotes or control characters",
    ]
    assert errors_of(refused.text, "expires_in_days") == ["a whole number of days from 1 to 3650"]
    assert errors_of(refused.text, "name") == []
    assert "The key was not issued" in refused.text
    assert 'value="/logs*"' in refused.text  # what was typed comes back
    assert 'value="mine"' in refused.text
    assert '<option value="read-only" selected>' in refused.text
    assert re.search(r'id="prefix" name="prefix"[^>]*aria-invalid="true"', refused.text, re.S)
    assert "new-secret" not in refused.text
    assert api_keys(client) == {}

    # the service's own refusal (a name of blanks) lands beside its field too
    blank = console.post(
        f"{location}/credentials", data={"csrf": csrf, "name": " ", "prefix": "ok/"}, follow_redirects=False
    )
    assert blank.status_code == 303  # a blank name is no name: the default one
    long = console.post(f"{location}/credentials", data={"csrf": csrf, "name": "n" * 64})
    assert long.status_code == 422
    assert errors_of(long.text, "name") == ["a name is 1 to 63 characters"]


def test_the_key_form_checks_as_you_type(console: TestClient, client: TestClient) -> None:
    csrf = sign_in(console)
    check = "/console/_api/demo/default/keys/check"
    bad = console.post(
        check, data={"csrf": csrf, "prefix": "a*", "access": "everything", "expires_in_days": "x"}
    )
    assert bad.status_code == 200
    assert bad.json() == {
        "valid": False,
        "errors": {
            "access": ["one of read-write, read-only, write-only"],
            "prefix": ["a prefix is literal: no * ? $ \\ quotes or control characters"],
            "expires_in_days": ["a whole number of days from 1 to 3650"],
        },
    }
    good = console.post(check, data={"csrf": csrf, "prefix": "logs/", "name": "x", "expires_in_days": "7"})
    assert good.json() == {"valid": True, "errors": {}}
    assert console.post(check, data={"prefix": "a"}).status_code == 403  # no CSRF token


# --- the handover files, once -------------------------------------------------------------------------


def test_the_handover_files_are_shown_with_the_secret_once_and_gone_on_reload(
    console: TestClient, client: TestClient, runtime: Runtime
) -> None:
    bucket = create_ready_bucket(client)
    csrf = sign_in(console)
    location = f"{PROJECT}/buckets/{bucket['id']}"
    issued = console.post(
        f"{location}/credentials", data={"csrf": csrf, "name": "app"}, follow_redirects=False
    )
    [once_cookie] = [h for h in set_cookie_headers(issued) if h.startswith(ONCE_COOKIE + "=")]
    assert len(once_cookie) < 700  # ids and the secret only: the page reads the rest from the record
    sealed = once_cookie.split(";")[0].split("=", 1)[1]
    assert set(json.loads(runtime.secrets.decrypt(sealed.encode()))) == {
        "place",
        "credential",
        "key",
        "secret",
        "csrf",
        "at",
    }
    page = console.get(location)
    access_key_id, secret = shown_secret(page.text)
    [credential] = api_keys(client).values()
    expected = Handover(
        credential_id=credential["id"],
        name="app",
        access_key_id=access_key_id,
        secret_access_key=secret,
        endpoint=bucket["endpoint"],
        region="local-1",
        buckets=(bucket["name"],),
    )
    for fmt in FORMATS:
        assert format_text(page.text, fmt) == render(fmt, expected), fmt
        assert f'data-copy="format-{fmt}"' in page.text
    env = format_text(page.text, "env")
    for variable in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION"):
        assert f"\n{variable}=" in env
    # the bucket's own .env snippet names the variables the SDKs read, too
    snippet = re.search(r'<code id="snippet-env">(.*?)</code>', page.text, re.S)
    assert snippet is not None
    assert "S3_ENDPOINT_URL" not in snippet.group(1)
    assert f"AWS_ENDPOINT_URL={bucket['endpoint']}\n" in html.unescape(snippet.group(1))
    assert "AWS_REGION=local-1\n" in html.unescape(snippet.group(1))
    assert "no_check_bucket = true" in page.text  # rclone's snippet: no CreateBucket on first copy

    # the .env file works as it is: boto3 reads it from the environment alone
    values = dict(line.split("=", 1) for line in env.splitlines() if line and not line.startswith("#"))
    s3 = boto3.Session(
        aws_access_key_id=values["AWS_ACCESS_KEY_ID"].strip("'"),
        aws_secret_access_key=values["AWS_SECRET_ACCESS_KEY"].strip("'"),
        region_name=values["AWS_REGION"].strip("'"),
    ).client("s3", endpoint_url=values["AWS_ENDPOINT_URL"].strip("'"))
    wait_until_known(s3, bucket["name"])
    s3.put_object(Bucket=bucket["name"], Key="from-env.txt", Body=b"hi")

    again = console.get(location).text
    assert secret not in again
    assert 'id="format-' not in again
    assert "new-secret" not in again


def test_a_key_issued_on_the_keys_page_shows_there_once_and_not_on_a_bucket_page(
    console: TestClient, client: TestClient
) -> None:
    first, second = create_ready_bucket(client), create_ready_bucket(client)
    csrf = sign_in(console)
    response = console.post(
        KEYS_PAGE,
        data={"csrf": csrf, "name": "two", "bucket": [first["id"], second["id"]]},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{KEYS_PAGE}#new-key"
    assert SECRET.search(console.get(f"{PROJECT}/buckets/{first['id']}").text) is None  # not its page
    # ... and that view spent it: shown on the page it was meant for, or nowhere
    assert SECRET.search(console.get(KEYS_PAGE).text) is None

    console.post(
        KEYS_PAGE,
        data={"csrf": csrf, "name": "three", "bucket": [first["id"], second["id"]]},
        follow_redirects=False,
    )
    page = console.get(KEYS_PAGE).text
    _, secret = shown_secret(page)
    kubernetes = format_text(page, "kubernetes")
    assert kubernetes.count("kind: Secret") == 2  # one per bucket
    assert first["name"] in kubernetes
    assert second["name"] in kubernetes
    assert f"# buckets: {first['name']} {second['name']}" in format_text(page, "env")
    assert secret not in console.get(KEYS_PAGE).text


# --- the keys page ------------------------------------------------------------------------------------


def test_the_keys_page_lists_every_key_with_its_buckets_modes_and_state(
    console: TestClient, client: TestClient, runtime: Runtime, operator_s3: Any
) -> None:
    first, second = create_ready_bucket(client), create_ready_bucket(client)
    reader = client.post(
        API_KEYS, json={"name": "reader", "grants": [{"bucket_id": first["id"], "access": "read-only"}]}
    ).json()
    csrf = sign_in(console)
    listing = console.get(PROJECT).text
    assert f'href="{KEYS_PAGE}">Keys</a>' in listing

    page = console.get(KEYS_PAGE).text
    for bucket in (first, second):  # the form offers each ready bucket
        assert f'name="bucket" value="{bucket["id"]}"' in page
    issued = console.post(
        KEYS_PAGE,
        data={
            "csrf": csrf,
            "name": "uploader",
            "bucket": [first["id"], second["id"]],
            "access": "write-only",
            "prefix": "in/",
            "expires_in_days": "3",
        },
        follow_redirects=False,
    )
    assert issued.status_code == 303, issued.text
    page = console.get(KEYS_PAGE).text
    access_key_id, secret = shown_secret(page)
    [uploader] = [k for k in api_keys(client).values() if k["name"] == "uploader"]
    assert [(g["bucket"], g["access"], g["prefix"]) for g in uploader["grants"]] == [
        (first["name"], "write-only", "in/"),
        (second["name"], "write-only", "in/"),
    ]

    row = key_row(page, uploader["id"])
    assert "uploader" in row
    assert access_key_id in row
    assert row.count('<span class="mode mode-write-only">write-only</span>') == 2
    assert row.count("<code>in/</code>") == 2
    assert f'href="{PROJECT}/buckets/{second["id"]}">{second["name"]}</a>' in row
    assert 'data-status="expiring"' in row  # three days left: within the week
    assert '<span class="status key-expiring" title="expires ' in row
    assert ">in 2 days</time>" in row or ">in 3 days</time>" in row
    reader_row = key_row(page, reader["id"])
    assert '<span class="mode mode-read-only">read-only</span>' in reader_row
    assert '<span class="status key-active">active</span>' in reader_row
    assert ">never</span>" in reader_row  # no expiry

    # the one key reaches both buckets, write-only and under its prefix, at SeaweedFS
    s3 = s3_with(first["endpoint"], access_key_id, secret)
    wait_until_known(s3, second["name"])
    s3.put_object(Bucket=second["name"], Key="in/a.txt", Body=b"a")
    s3.put_object(Bucket=first["name"], Key="in/b.txt", Body=b"b")
    assert denied(lambda: s3.put_object(Bucket=first["name"], Key="elsewhere.txt", Body=b"x"))
    assert denied(lambda: s3.get_object(Bucket=second["name"], Key="in/a.txt"))

    # an expired key, not yet revoked by the periodic job, reads as expired
    with runtime.db.session() as session:
        row_of_reader = session.get(Credential, reader["id"])
        assert row_of_reader is not None
        row_of_reader.expires_at = utcnow() - timedelta(hours=2)
    expired_row = key_row(console.get(KEYS_PAGE).text, reader["id"])
    assert '<span class="status key-expired">expired</span>' in expired_row
    assert ">2 hours ago</time>" in expired_row


def test_a_refused_multi_bucket_key_shows_why_beside_the_buckets(
    console: TestClient, client: TestClient
) -> None:
    bucket = create_ready_bucket(client)
    csrf = sign_in(console)
    none_checked = console.post(KEYS_PAGE, data={"csrf": csrf, "name": "nothing"})
    assert none_checked.status_code == 422
    assert errors_of(none_checked.text, "buckets") == ["at least one bucket"]
    assert 'value="nothing"' in none_checked.text

    # more fields than the other forms have (a checkbox per bucket) is accepted; unknown ids are named
    strangers = [f"bkt_{i:026x}" for i in range(30)]
    many = console.post(KEYS_PAGE, data={"csrf": csrf, "bucket": [bucket["id"], *strangers], "prefix": "/x"})
    assert many.status_code == 422
    messages = errors_of(many.text, "buckets")
    assert len(messages) == 30
    assert messages[0] == f"no bucket {strangers[0]} in this project"
    assert errors_of(many.text, "prefix") == [  # one prefix for all: its problem once
        "a prefix does not start with &#39;/&#39;: S3 keys have no leading slash"
    ]
    assert re.search(rf'value="{bucket["id"]}" checked', many.text)  # the checks are kept
    assert api_keys(client) == {}


def test_rotate_and_revoke_through_the_keys_page(console: TestClient, client: TestClient) -> None:
    bucket = create_ready_bucket(client)
    old = client.post(
        API_KEYS, json={"name": "app", "grants": [{"bucket_id": bucket["id"], "access": "read-only"}]}
    ).json()
    csrf = sign_in(console)
    page = console.get(KEYS_PAGE).text
    row = key_row(page, old["id"])
    assert '<summary class="button tiny secondary">Rotate…</summary>' in row  # behind a click, no script
    assert f'id="grace-{old["id"]}" name="grace_hours" type="number"' in row
    assert 'value="24"' in row
    assert '<summary class="button tiny danger-outline">Revoke…</summary>' in row

    wrong = console.post(f"{KEYS_PAGE}/{old['id']}/rotate", data={"csrf": csrf, "grace_hours": "-1"})
    assert wrong.status_code == 422
    assert errors_of(wrong.text, f"grace-{old['id']}") == [
        "hours from 0 to 720 (30 days); 0 ends the old key at once"
    ]
    assert re.search(
        r'<details class="confirm" open>\s*<summary class="button tiny secondary">Rotate', wrong.text
    )
    assert 'value="-1"' in wrong.text
    assert console.post(f"{KEYS_PAGE}/{old['id']}/rotate", data={"grace_hours": "1"}).status_code == 403

    rotated = console.post(
        f"{KEYS_PAGE}/{old['id']}/rotate", data={"csrf": csrf, "grace_hours": "24"}, follow_redirects=False
    )
    assert rotated.status_code == 303
    assert rotated.headers["location"] == f"{KEYS_PAGE}#new-key"
    page = console.get(KEYS_PAGE).text
    access_key_id, _ = shown_secret(page)
    keys = api_keys(client)
    [new] = [k for k in keys.values() if k["id"] != old["id"]]
    assert new["access_key_id"] == access_key_id
    assert new["rotated_from"] == old["id"]
    assert keys[old["id"]]["status"] == "rotating"
    revoke_at = keys[old["id"]]["revoke_at"]
    assert revoke_at is not None
    old_row, new_row = key_row(page, old["id"]), key_row(page, new["id"])
    assert 'data-status="rotating"' in old_row
    assert f'replaced by <a href="#key-{new["id"]}">' in old_row
    assert ">in 23 hours</time>" in old_row  # works until the grace period ends
    assert "Rotate…" not in old_row  # one rotation at a time
    assert f'replaces <a href="#key-{old["id"]}">' in new_row
    assert '<span class="mode mode-read-only">read-only</span>' in new_row  # same grants
    assert console.post(f"{KEYS_PAGE}/{old['id']}/rotate", data={"csrf": csrf}).status_code == 409

    assert console.post(f"{KEYS_PAGE}/{new['id']}/revoke", data={}).status_code == 403  # no CSRF
    revoked = console.post(f"{KEYS_PAGE}/{new['id']}/revoke", data={"csrf": csrf}, follow_redirects=False)
    assert revoked.status_code == 303
    assert revoked.headers["location"] == f"{KEYS_PAGE}?revoked={new['id']}#key-{new['id']}"
    after = console.get(revoked.headers["location"]).text
    assert f"Key <code>{new['access_key_id']}</code> is revoked; it stopped working at once." in after
    assert 'data-status="revoked"' in key_row(after, new["id"])
    assert "Revoke…" not in key_row(after, new["id"])
    assert api_keys(client)[new["id"]]["status"] == "revoked"


def test_a_rotation_without_grace_ends_the_old_key_at_once(console: TestClient, client: TestClient) -> None:
    bucket = create_ready_bucket(client)
    old = client.post(f"{BUCKETS}/{bucket['id']}/credentials").json()
    csrf = sign_in(console)
    rotated = console.post(f"{KEYS_PAGE}/{old['id']}/rotate", data={"csrf": csrf, "grace_hours": "0"})
    assert rotated.status_code == 200
    assert 'data-status="revoked"' in key_row(rotated.text, old["id"])
    assert api_keys(client)[old["id"]]["status"] == "revoked"


# --- who may do what ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["viewer", "capped owner"])
def test_a_reader_sees_no_key_forms_and_each_key_post_is_refused_403(
    console: TestClient, client: TestClient, runtime: Runtime, who: str
) -> None:
    bucket = create_ready_bucket(client)
    key = client.post(f"{BUCKETS}/{bucket['id']}/credentials").json()
    if who == "viewer":
        token = member_of(runtime, "viewer")["Authorization"].removeprefix("Bearer ")
    else:  # the owner's own token, capped at viewer: the offers follow the cap too
        made = client.post("/v3/user/tokens", json={"name": "read", "role_cap": "viewer"})
        assert made.status_code == 201, made.text
        token = made.json()["token"]
    csrf = sign_in(console, token)
    listing = console.get(PROJECT).text
    assert f'href="{KEYS_PAGE}"' not in listing
    bucket_page = console.get(f"{PROJECT}/buckets/{bucket['id']}").text
    for offer in ("Issue a key", 'name="access"', "All keys of the project", "Revoke", key["access_key_id"]):
        assert offer not in bucket_page
    assert console.get(KEYS_PAGE).status_code == 403
    for path, data in (
        (KEYS_PAGE, {"bucket": bucket["id"]}),
        (f"{KEYS_PAGE}/{key['id']}/rotate", {"grace_hours": "24"}),
        (f"{KEYS_PAGE}/{key['id']}/revoke", {}),
        (f"{PROJECT}/buckets/{bucket['id']}/credentials", {"access": "read-only"}),
        (f"{PROJECT}/buckets/{bucket['id']}/credentials/{key['id']}/revoke", {}),
        ("/console/_api/demo/default/keys/check", {"prefix": "x"}),
    ):
        assert console.post(path, data={"csrf": csrf, **data}).status_code == 403, path
    assert [k["status"] for k in api_keys(client).values()] == ["active"]


def test_a_member_gets_every_key_form(console: TestClient, client: TestClient, runtime: Runtime) -> None:
    create_ready_bucket(client)
    sign_in(console, member_of(runtime, "member")["Authorization"].removeprefix("Bearer "))
    page = console.get(KEYS_PAGE)
    assert page.status_code == 200
    assert "Issue the key" in page.text
    assert f'href="{KEYS_PAGE}">Keys</a>' in console.get(PROJECT).text


# --- what the pages cost --------------------------------------------------------------------------------


def test_the_keys_and_bucket_pages_cost_as_many_statements_for_one_key_as_for_many(
    console: TestClient, client: TestClient, runtime: Runtime
) -> None:
    first, second = create_ready_bucket(client), create_ready_bucket(client)
    client.post(f"{BUCKETS}/{first['id']}/credentials")
    sign_in(console)

    def cost(path: str) -> int:
        console.get(path)  # warm: the first request of a session reads more
        with counted(runtime) as statements:
            assert console.get(path).status_code == 200
        return len(statements)

    bucket_path = f"{PROJECT}/buckets/{first['id']}"
    one = {path: cost(path) for path in (KEYS_PAGE, bucket_path)}
    for access in ("read-only", "write-only", "read-write"):
        grants = [{"bucket_id": first["id"], "access": access}, {"bucket_id": second["id"]}]
        assert client.post(API_KEYS, json={"grants": grants}).status_code == 201
    old = next(iter(api_keys(client)))
    assert client.post(f"{API_KEYS}/{old}/rotate", json={"grace_seconds": 3600}).status_code == 201
    many = {path: cost(path) for path in (KEYS_PAGE, bucket_path)}
    assert many == one
    assert min(one.values()) > 0, one  # the counter sees the request's own statements
    assert one[KEYS_PAGE] <= 9, one
    assert one[bucket_path] <= 10, one


def test_a_bucket_page_with_a_key_events_and_usage_costs_an_owner_at_most_ten_statements(
    console: TestClient, client: TestClient, runtime: Runtime
) -> None:
    """The session's token, the header's projects with the page's scope, the bucket, its keys and
    its history, each read once: 10 statements (17 when the header and the scope read the project
    apart, and 28 to 32 when each offer resolved it again)."""
    bucket = create_ready_bucket(client)
    issued = client.post(f"{BUCKETS}/{bucket['id']}/credentials", json={"name": "app"})
    assert issued.status_code == 201, issued.text
    with runtime.db.session() as session:
        row = session.get(Bucket, bucket["id"])
        assert row is not None
        row.object_count, row.bytes, row.last_synced_at = 7, 3 * 1024 * 1024, utcnow()
        org = session.scalars(select(Organization).where(Organization.slug == "demo")).one()
        owner = member_token(session, org, "owner")
    sign_in(console, owner)
    path = f"{PROJECT}/buckets/{bucket['id']}"
    console.get(path)  # warm: the first request of a session reads more
    with counted(runtime) as statements:
        page = console.get(path)
    assert page.status_code == 200
    assert "3.0 MiB" in page.text  # its usage
    assert f'data-key="{issued.json()["id"]}"' in page.text  # its key, and what the owner may do
    for offer in ("Issue a key", "Revoke", "Delete bucket", "Sync usage now"):
        assert offer in page.text, offer
    history = page.text[page.text.index('id="events"') :]
    assert history.count("<tr><td>") >= 3, "the events of its way to ready"
    assert '<option value="demo/default" selected>' in page.text  # the header's switcher
    assert len(statements) <= 10, "\n".join(statements)


# --- times a person reads -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (30, "in less than a minute"),
        (90, "in 1 minute"),
        (3 * 3600 + 5, "in 3 hours"),
        (86400 * 3 + 10, "in 3 days"),
        (-7200, "2 hours ago"),
    ],
)
def test_expiries_read_as_how_long_until(seconds: int, shown: str) -> None:
    now = utcnow()
    assert time_until(now + timedelta(seconds=seconds), now) == shown
    assert time_until(None) == "never"
