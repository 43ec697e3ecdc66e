"""Console pages: thin routes over the same services and permission checks as the API.

Each page resolves its scope with the permission the matching API route names (``Console.scope``,
in ``web.dependencies``), so the console can do exactly what the token in its session could do with
the API, and a refused change is audited the same way. Forms post
``application/x-www-form-urlencoded`` with the session's CSRF token; every change answers with a
redirect (303), so a reload never repeats it.

One module per thing shown: signing in, an organization's billing, the projects and their bucket
lists, one bucket, a project's keys, and the small JSON endpoints the console's script polls. They
are joined in this order because the first route that matches wins: ``/_static/...`` and
``/_api/...`` come before the ``/{org}/{project}/...`` pages that would match them too, as
``/{org}/_billing`` does (no project slug starts with ``_``), and ``buckets/new`` before
``buckets/{bucket_id}``.
"""

from __future__ import annotations

from fastapi import APIRouter

from loopback.web.routes import api, billing, bucket, keys, projects, sign_in

router = APIRouter()
for pages in (sign_in, api, billing, projects, bucket, keys):
    router.include_router(pages.router)
