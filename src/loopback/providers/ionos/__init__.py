"""Family ``ionos``: IONOS Object Storage, with keys issued per tenant through IONOS's own APIs.

IONOS has no IAM API in S3's dialect. Buckets are made through S3 with the operator's IONOS key
(``setup.access_key_id``/``secret_access_key``; the ``s3`` family's code, composed); keys come from
one of IONOS's two key APIs, chosen by ``settings["key_api"]``:

- ``cloud`` (the default), the Cloud API (``https://api.ionos.com/cloudapi/v6``, Bearer token):
  one IONOS user per tenant scope (a project; an organization with ``isolation: organization``),
  found by a deterministic e-mail address through ``GET /um/users`` or made with
  ``POST /um/users``, and its keys through ``/um/users/{userId}/s3keys``. IONOS documents that
  "a maximum of five keys per user can be generated", so a tenant holds at most five keys here.
- ``management``, the Object Storage Management API (``https://s3.ionos.com``, Bearer token only):
  ``POST /accesskeys`` makes a key *of the token's own user*, ``metadata.status`` goes from
  ``PROVISIONING`` to ``AVAILABLE``, ``DELETE /accesskeys/{id}`` answers 202. Every key made this
  way belongs to the same IONOS user, so IONOS cannot keep tenants apart: see ``capabilities``.

A key of a fresh IONOS user reaches nothing (such a user owns no bucket); each issued credential
adds to its bucket's policy one statement, per principal, that lets that user read, write, list
and delete the bucket's objects. IONOS names principals two ways (docs.ionos.com, Object Storage,
Bucket Policy examples): ``{"CanonicalUser": ["<canonical user id>"]}`` for user-owned buckets
and ``{"AWS": ["arn:aws:iam:::user/<contract user id>"]}`` for contract-owned ones, where the
contract user id "consists of contract number and user ID" (IONOS, Retrieve User IDs; written
``<contract number>:<user UUID>`` in published examples). Policies may be 20 KB (user-owned) or
1 MB (contract-owned) large.

The isolation unit is therefore the tenant, not the bucket: a tenant's key reaches every bucket of
that tenant for which a key was issued, and no bucket of another tenant.

The package's rooms: ``regions`` (the catalogue), ``naming``, ``policies`` (the documents),
``api`` (``IonosApi``), ``storage`` (the S3 side), ``keys`` (the ``KeyIssuer`` Protocol) with
``cloud_keys`` and ``management_keys``, and ``provider`` (``IonosProvider``, ``build``). The
names below are re-exported so that ``loopback.providers.ionos`` stays the family's one address
(the registry builds it with ``ionos.build``; ``COUNTRIES`` is read from here).
"""

from __future__ import annotations

from loopback.providers.ionos.api import CLOUD_URL, MANAGEMENT_URL, IonosApi
from loopback.providers.ionos.cloud_keys import CloudKeys
from loopback.providers.ionos.keys import (
    CLOUD_USER_PREFIX,
    MANAGEMENT_USER_PREFIX,
    MAX_KEYS_PER_USER,
    KeyIssuer,
)
from loopback.providers.ionos.management_keys import ManagementKeys
from loopback.providers.ionos.naming import NAME_NOTES, ionos_name_problems
from loopback.providers.ionos.policies import (
    GRANTED_ACTIONS,
    POLICY_SIZE_LIMITS,
    STATEMENT_PREFIX,
    grant_statement,
    merged_policy,
    principal_for,
    statement_id,
)
from loopback.providers.ionos.provider import ISOLATION_SCOPES, KEY_APIS, IonosProvider, build
from loopback.providers.ionos.regions import (
    COUNTRIES,
    IONOS_REGIONS,
    OWNERSHIP,
    REGIONS,
    IonosRegion,
    Ownership,
)
from loopback.providers.ionos.storage import FAMILY, MAX_BUCKETS_PER_USER, IonosS3

__all__ = [
    "CLOUD_URL",
    "CLOUD_USER_PREFIX",
    "COUNTRIES",
    "FAMILY",
    "GRANTED_ACTIONS",
    "IONOS_REGIONS",
    "ISOLATION_SCOPES",
    "KEY_APIS",
    "MANAGEMENT_URL",
    "MANAGEMENT_USER_PREFIX",
    "MAX_BUCKETS_PER_USER",
    "MAX_KEYS_PER_USER",
    "NAME_NOTES",
    "OWNERSHIP",
    "POLICY_SIZE_LIMITS",
    "REGIONS",
    "STATEMENT_PREFIX",
    "CloudKeys",
    "IonosApi",
    "IonosProvider",
    "IonosRegion",
    "IonosS3",
    "KeyIssuer",
    "ManagementKeys",
    "Ownership",
    "build",
    "grant_statement",
    "ionos_name_problems",
    "merged_policy",
    "principal_for",
    "statement_id",
]
