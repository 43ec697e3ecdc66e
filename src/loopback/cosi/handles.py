"""The ids COSI keeps for a Loopback bucket and key, and the Loopback names made from COSI's.

COSI passes only its own id in every call after a create or a grant, and allows alphanumerics,
``-`` and ``.`` in it; Loopback addresses a bucket or key by organization, project and id. So a
bucket's handle is ``{org}.{project}.{bucket id}`` (``demo.default.bkt-0193…``: slugs hold no dot,
and the id's ``_`` becomes ``-``), and an access's is ``{org}.{project}.{key name}``: the key is
found by its name, which the grant made from COSI's account name.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import grpc

from loopback.cosi.errors import DriverError, invalid

BUCKET_PREFIX = "bkt"
S3_NAME = re.compile(r"^[a-z0-9](?:-*[a-z0-9])*(?:\.[a-z0-9](?:-*[a-z0-9])*)*$")
IP_FORM = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
NAME_MAX = 63  # an S3 bucket name, and a Loopback key name
KEY_PREFIX = "cosi-"


@dataclass(frozen=True)
class Place:
    """An organization and project, by slug."""

    organization: str
    project: str


@dataclass(frozen=True)
class BucketRef:
    place: Place
    bucket_id: str  # Loopback's, bkt_...

    @property
    def handle(self) -> str:
        return f"{self.place.organization}.{self.place.project}.{self.bucket_id.replace('_', '-', 1)}"


@dataclass(frozen=True)
class AccessRef:
    place: Place
    key_name: str

    @property
    def handle(self) -> str:
        return f"{self.place.organization}.{self.place.project}.{self.key_name}"


def _split(handle: str, what: str) -> tuple[Place, str]:
    parts = handle.split(".", 2)
    if len(parts) != 3 or not all(parts):
        raise DriverError(
            grpc.StatusCode.NOT_FOUND,
            f"{what} {handle!r} is not one this driver made (it has the form ORG.PROJECT.ID)",
        )
    return Place(parts[0], parts[1]), parts[2]


def bucket_ref(handle: str) -> BucketRef:
    place, rest = _split(handle, "bucket id")
    prefix, _, body = rest.partition("-")
    if prefix != BUCKET_PREFIX or not body:
        raise invalid(f"bucket id {handle!r} does not end in a Loopback bucket id (bkt-...)")
    return BucketRef(place, f"{prefix}_{body}")


def is_bucket_handle(value: str) -> bool:
    parts = value.split(".", 2)
    return len(parts) == 3 and parts[2].startswith(f"{BUCKET_PREFIX}-")


def access_ref(handle: str) -> AccessRef:
    place, name = _split(handle, "account id")
    return AccessRef(place, name)


def _digest(text: str, length: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _fitted(text: str, limit: int) -> str:
    """``text`` when it fits, else its start and a digest of the whole, so two names stay two."""
    if len(text) <= limit:
        return text
    digest = _digest(text)
    return f"{text[: limit - len(digest) - 1].rstrip('.-')}-{digest}"


def bucket_name(cosi_name: str) -> str:
    """The S3 name of the bucket COSI names ``cosi_name`` (a DNS subdomain up to 253 characters).

    COSI's name when S3 takes it as it is; otherwise its labels joined by hyphens, cut to 63
    characters with a digest of the whole name, so the same claim always gets the same bucket.
    """
    name = cosi_name.lower()
    if S3_NAME.fullmatch(name) and 3 <= len(name) <= NAME_MAX and not _reserved(name):
        return name
    flat = re.sub(r"[^a-z0-9]+", "-", name).strip("-") or "bucket"
    fitted = _fitted(flat, NAME_MAX)
    if fitted == flat and (_reserved(flat) or len(flat) < 3):
        fitted = f"cosi-{flat}-{_digest(cosi_name)}"
    return fitted


def _reserved(name: str) -> bool:
    return bool(
        IP_FORM.fullmatch(name)
        or name.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
        or name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))
    )


def key_name(account_name: str) -> str:
    """The Loopback key name for COSI's account name: ``cosi-`` and the name, 63 characters at most."""
    return _fitted(KEY_PREFIX + account_name, NAME_MAX)
