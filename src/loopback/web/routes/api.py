"""What the console's script asks for: a bucket's or a project's progress, and checks as you type.

Answers are JSON (``ConsoleRoute`` turns a refusal under ``/console/_api`` into a JSON problem); the
caller is signed in as for pages, but nothing reads the header's project switcher.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from loopback.buckets.models import DeletionPolicy
from loopback.kit.errors import Invalid
from loopback.web.dependencies import PostedForm, SignedIn
from loopback.web.following import BUSY, bucket_state, project_state
from loopback.web.forms import KeyForm, field_errors, key_errors
from loopback.web.placements import FAILING, failed_check_message
from loopback.web.rendering import console_router

router = console_router()


@router.get("/_api/{org}/{project}/status")
def project_status(org: str, project: str, console: SignedIn) -> JSONResponse:
    """Polled by the bucket list while a bucket is on its way: a change reloads the list."""
    state, busy = project_state(console, console.scope(org, project, "buckets.read"))
    return JSONResponse({"state": state, "busy": busy})


@router.get("/_api/{org}/{project}/buckets/{bucket_id}/status")
def bucket_status(org: str, project: str, bucket_id: str, console: SignedIn) -> JSONResponse:
    """Polled by a bucket's page while it is on its way: a change reloads the page's content."""
    scope = console.scope(org, project, "buckets.read")
    view = console.runtime.buckets.get(console.session, scope, bucket_id)
    return JSONResponse(
        {
            "state": bucket_state(view),
            "busy": view.bucket.status in BUSY,
            "status": view.bucket.status,
            "reason": view.bucket.status_reason,
        }
    )


@router.post("/_api/{org}/{project}/buckets/check")
def check_bucket(org: str, project: str, form: PostedForm, console: SignedIn) -> JSONResponse:
    """Validation as you type: every problem of the create form, by field, recording nothing."""
    console.scope(org, project, "buckets.create")  # admits the caller; names are unique per provider
    try:
        provider, region = console.runtime.buckets.check_new(
            console.session,
            form.text("name"),
            form.text("provider"),
            form.text("region"),
            form.text("deletion_policy") or DeletionPolicy.DELETE,
        )
    except Invalid as invalid:
        return JSONResponse(
            {"valid": False, "errors": field_errors(invalid.problems), "endpoint": None, "warning": None}
        )
    check = console.runtime.providers.readiness(console.session).get(provider.name, {})
    if check.get("status") == FAILING:
        # no endpoint is promised at a provider whose last check failed: the bucket may never be ready
        warning = failed_check_message(provider.display_name)
        return JSONResponse({"valid": True, "errors": {}, "endpoint": None, "warning": warning})
    return JSONResponse({"valid": True, "errors": {}, "endpoint": region.endpoint, "warning": None})


@router.post("/_api/{org}/{project}/keys/check")
def check_key(org: str, project: str, form: PostedForm, console: SignedIn) -> JSONResponse:
    """Validation as you type for the key forms: what the form alone shows wrong, by field."""
    console.scope(org, project, "credentials.issue")
    errors = key_errors(KeyForm.of(form).problems())
    return JSONResponse({"valid": not errors, "errors": errors})
