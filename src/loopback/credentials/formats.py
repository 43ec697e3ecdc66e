"""An issued S3 key, rendered as the file a user's tool reads, so that pasting it is all they do.

Every format is proven by running the real tool against the embedded SeaweedFS
(``tests/credentials/test_endpoints_formats.py``); a change here must keep those passing.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

FORMATS: tuple[str, ...] = ("env", "aws-credentials", "aws-config", "rclone", "s3cmd", "kubernetes")

_TEXT = "text/plain; charset=utf-8"
MEDIA_TYPES: Mapping[str, str] = {
    "env": _TEXT,
    "aws-credentials": _TEXT,
    "aws-config": _TEXT,
    "rclone": _TEXT,
    "s3cmd": _TEXT,
    "kubernetes": "application/yaml",
}

ADDRESSING_STYLES = ("path", "virtual")
DNS_SUBDOMAIN_MAX = 253  # a Kubernetes object name is a DNS-1123 subdomain


@dataclass(frozen=True)
class Handover:
    """What a user needs to reach their buckets with one key; the secret stays out of ``repr``."""

    credential_id: str
    name: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    endpoint: str
    region: str
    buckets: tuple[str, ...]
    addressing_style: str = "path"

    def __post_init__(self) -> None:
        # Refused here so that no format can emit a file its tool would misread.
        if not self.buckets:
            raise ValueError("a handover names at least one bucket")
        if self.addressing_style not in ADDRESSING_STYLES:
            raise ValueError(f"addressing_style must be one of {', '.join(ADDRESSING_STYLES)}")
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"endpoint must be an http(s) URL, got {self.endpoint!r}")
        values = (self.credential_id, self.name, self.access_key_id, self.secret_access_key, self.region)
        if any(ch in value for value in (*values, self.endpoint, *self.buckets) for ch in "\r\n\0"):
            raise ValueError("handover values must be single lines")  # an ini line break would inject keys


def _slug(text: str) -> str:
    """Lowercase letters, digits and single hyphens: valid as a profile, remote and DNS label."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def profile_name(handover: Handover) -> str:
    """The one name used for the aws profile and the rclone remote, so the files agree."""
    return f"loopback-{_slug(handover.name) or _slug(handover.credential_id) or 'key'}"


def _ini(header: str, pairs: list[tuple[str, str]]) -> str:
    return "\n".join([f"[{header}]", *(f"{key} = {value}" for key, value in pairs)]) + "\n"


def _env(handover: Handover) -> str:
    # AWS_ENDPOINT_URL is read by boto3 >= 1.28 and aws-cli >= 1.29 / 2.13; both regions for older SDKs.
    pairs = [
        ("AWS_ACCESS_KEY_ID", handover.access_key_id),
        ("AWS_SECRET_ACCESS_KEY", handover.secret_access_key),
        ("AWS_ENDPOINT_URL", handover.endpoint),
        ("AWS_DEFAULT_REGION", handover.region),
        ("AWS_REGION", handover.region),
    ]
    lines = [f"# Loopback key {handover.name} ({handover.credential_id})"]
    lines.append(f"# buckets: {' '.join(handover.buckets)}")
    lines += [f"{key}={shlex.quote(value)}" for key, value in pairs]
    return "\n".join(lines) + "\n"


def _aws_credentials(handover: Handover) -> str:
    return _ini(
        profile_name(handover),
        [
            ("aws_access_key_id", handover.access_key_id),
            ("aws_secret_access_key", handover.secret_access_key),
        ],
    )


def _aws_config(handover: Handover) -> str:
    # The indented block under ``s3 =`` is how aws-cli documents per-service settings in ~/.aws/config.
    section = _ini(
        f"profile {profile_name(handover)}",
        [("region", handover.region), ("endpoint_url", handover.endpoint)],
    )
    return section + f"s3 =\n    addressing_style = {handover.addressing_style}\n"


def _rclone(handover: Handover) -> str:
    # no_check_bucket: otherwise rclone's first upload tries CreateBucket, which a key scoped to
    # object operations is refused (403), failing the copy.
    return _ini(
        profile_name(handover),
        [
            ("type", "s3"),
            ("provider", "Other"),
            ("env_auth", "false"),
            ("access_key_id", handover.access_key_id),
            ("secret_access_key", handover.secret_access_key),
            ("endpoint", handover.endpoint),
            ("region", handover.region),
            ("force_path_style", "true" if handover.addressing_style == "path" else "false"),
            ("acl", "private"),
            ("no_check_bucket", "true"),
        ],
    )


def _s3cmd(handover: Handover) -> str:
    # s3cmd takes host:port and the scheme apart; ``%(bucket)s`` is its own virtual-host template.
    parts = urlsplit(handover.endpoint)
    host = parts.netloc
    return _ini(
        "default",
        [
            ("access_key", handover.access_key_id),
            ("secret_key", handover.secret_access_key),
            ("host_base", host),
            ("host_bucket", host if handover.addressing_style == "path" else f"%(bucket)s.{host}"),
            ("use_https", str(parts.scheme == "https")),
            ("bucket_location", handover.region),
            ("signature_v2", "False"),
        ],
    )


def secret_name(handover: Handover, bucket: str) -> str:
    """A DNS-1123 name per bucket; the key's part is cut first so the bucket keeps them distinct."""
    bucket_part = ".".join(label for label in map(_slug, bucket.split(".")) if label) or "bucket"
    room = DNS_SUBDOMAIN_MAX - len(bucket_part) - 1
    return f"{profile_name(handover)[:room].rstrip('-')}-{bucket_part}"


def _kubernetes(handover: Handover) -> str:
    import yaml  # the one format in YAML: an API process loads it when a key is asked for in it

    documents = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret_name(handover, bucket)},
            "type": "Opaque",
            "stringData": {  # as COSI v1alpha2's sidecar writes a BucketAccess's Secret
                "COSI_PROTOCOL": "S3",
                "COSI_S3_BUCKET_ID": bucket,
                "COSI_S3_ENDPOINT": handover.endpoint,
                "COSI_S3_REGION": handover.region,
                "COSI_S3_ADDRESSING_STYLE": handover.addressing_style,
                "COSI_S3_ACCESS_KEY_ID": handover.access_key_id,
                "COSI_S3_ACCESS_SECRET_KEY": handover.secret_access_key,
            },
        }
        for bucket in handover.buckets
    ]
    return "---\n".join(yaml.safe_dump(document, sort_keys=False) for document in documents)


_RENDERERS: Mapping[str, Callable[[Handover], str]] = {
    "env": _env,
    "aws-credentials": _aws_credentials,
    "aws-config": _aws_config,
    "rclone": _rclone,
    "s3cmd": _s3cmd,
    "kubernetes": _kubernetes,
}


def render(fmt: str, handover: Handover) -> str:
    """The text of one format, ready to paste unmodified into that tool's file."""
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}") from None
    return renderer(handover)
