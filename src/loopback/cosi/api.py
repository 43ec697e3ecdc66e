"""The calls the driver makes to Loopback's API: one method a call, over ``loopback.client``.

Nothing here decides anything: ``buckets`` and ``access`` do. A refusal raises the client's
``ApiProblem`` (an unreachable API ``ApiUnreachable``), for them to read or turn into a status.
``OPERATIONS`` is every API operation the driver reaches, as the ``cosi-driver`` command declares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopback.client.http import ApiClient, every_row, v3
from loopback.client.operations import BUCKET, BUCKETS, CREDENTIAL, CREDENTIALS
from loopback.cosi.handles import BucketRef, Place

IDEMPOTENCY_HEADER = "Idempotency-Key"
OPERATIONS = (
    f"POST {BUCKETS}",
    f"POST {BUCKETS}/adopt",
    f"GET {BUCKETS}",
    f"GET {BUCKET}",
    f"DELETE {BUCKET}",
    f"POST {CREDENTIALS}",
    f"GET {CREDENTIALS}",
    f"DELETE {CREDENTIAL}",
)

Json = dict[str, Any]


def _project(place: Place, *rest: str) -> str:
    return v3("organizations", place.organization, "projects", place.project, *rest)


class LoopbackApi:
    """Loopback's API as the driver uses it, through one ``ApiClient`` shared by the server's threads."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def create_bucket(self, place: Place, body: Mapping[str, Any], key: str) -> Json:
        return self.client.post(_project(place, "buckets"), body, headers={IDEMPOTENCY_HEADER: key}).body

    def adopt_bucket(self, place: Place, body: Mapping[str, Any], key: str) -> Json:
        path = _project(place, "buckets", "adopt")
        return self.client.post(path, body, headers={IDEMPOTENCY_HEADER: key}).body

    def bucket(self, ref: BucketRef) -> Json:
        return self.client.get(_project(ref.place, "buckets", ref.bucket_id)).body

    def buckets_named(self, place: Place, name: str) -> list[Json]:
        """The project's current (not superseded, not deleted) buckets called ``name``: the look-up
        of a create whose name is taken, so by name, whatever install link the bucket was given."""
        params = {"limit": 200, "superseded": "false"}
        rows = every_row(self.client, _project(place, "buckets"), "buckets", params)
        return [b for b in rows if b.get("name") == name and b.get("status") != "deleted"]

    def delete_bucket(self, ref: BucketRef) -> Json:
        return self.client.delete(_project(ref.place, "buckets", ref.bucket_id)).body

    def issue_key(self, place: Place, body: Mapping[str, Any], key: str) -> Json:
        return self.client.post(_project(place, "credentials"), body, headers={IDEMPOTENCY_HEADER: key}).body

    def keys_named(self, place: Place, name: str) -> list[Json]:
        """The project's keys called ``name`` that still work (active, expiring or rotating)."""
        rows = every_row(self.client, _project(place, "credentials"), "credentials", {"limit": 500})
        return [k for k in rows if k.get("name") == name and k.get("status") not in ("revoked", "expired")]

    def revoke_key(self, place: Place, credential_id: str) -> None:
        self.client.delete(_project(place, "credentials", credential_id))
