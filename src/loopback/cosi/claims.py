"""Which BucketClaim a COSI bucket is for: its namespace and name, for the bucket's install link.

COSI's DriverCreateBucket carries the Bucket object's name but not its claim. Inside the cluster
(``KUBERNETES_SERVICE_HOST`` and a ServiceAccount token, as a pod has them) the driver reads the
Bucket (``objectstorage.k8s.io/v1alpha2``, cluster-scoped) and takes ``spec.bucketClaimRef``;
its ServiceAccount needs ``get`` on ``buckets`` for that, which the sidecar's role has already.
Outside a cluster, or when the read fails, the link names COSI's bucket name as the claim and no
namespace: a bucket is never refused for want of a label.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
BUCKETS_PATH = "/apis/objectstorage.k8s.io/v1alpha2/buckets/"
log = logging.getLogger("loopback.cosi")


@dataclass(frozen=True)
class Claim:
    namespace: str | None
    name: str


class Claims(Protocol):
    def claim_of(self, bucket: str) -> Claim:
        """The claim of COSI's bucket named ``bucket``."""
        ...


class NoCluster:
    """Outside a cluster: the claim is COSI's name for the bucket, in no namespace."""

    def claim_of(self, bucket: str) -> Claim:
        return Claim(None, bucket)


class KubernetesClaims:
    """Reads the Bucket object from the cluster's API with the pod's ServiceAccount token."""

    def __init__(self, api_url: str, token: str, ca_file: str | None, timeout: float = 3.0) -> None:
        import httpx

        verify: str | bool = ca_file if ca_file else True
        self._http = httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {token}"}, verify=verify, timeout=timeout
        )

    def claim_of(self, bucket: str) -> Claim:
        import httpx

        try:
            answer = self._http.get(BUCKETS_PATH + bucket)
            answer.raise_for_status()
            spec = answer.json().get("spec") or {}
        except (httpx.HTTPError, ValueError) as error:
            log.warning("cannot read Bucket %s from the cluster (%s): the claim is its name", bucket, error)
            return Claim(None, bucket)
        ref = spec.get("bucketClaimRef") or spec.get("bucketClaim") or {}
        name, namespace = ref.get("name"), ref.get("namespace")
        return Claim(
            namespace if isinstance(namespace, str) and namespace else None,
            name if isinstance(name, str) and name else bucket,
        )


def in_cluster(environ: dict[str, str] | None = None, account: Path = SERVICE_ACCOUNT) -> Claims:
    """``KubernetesClaims`` in a pod, ``NoCluster`` elsewhere."""
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT", "443")
    token_file = account / "token"
    if not host or not token_file.is_file():
        return NoCluster()
    ca = account / "ca.crt"
    host = f"[{host}]" if ":" in host else host
    token = token_file.read_text().strip()
    return KubernetesClaims(f"https://{host}:{port}", token, str(ca) if ca.is_file() else None)
