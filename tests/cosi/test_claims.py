"""Which claim a COSI bucket is for: read from the cluster's Bucket object in a pod, COSI's name
for it elsewhere or when the cluster does not say."""

from __future__ import annotations

from pathlib import Path

from loopback.cosi.claims import BUCKETS_PATH, Claim, KubernetesClaims, NoCluster, in_cluster
from tests.cosi.kubernetes import DiscoveryServer

BUCKET = {
    "apiVersion": "objectstorage.k8s.io/v1alpha2",
    "kind": "Bucket",
    "metadata": {"name": "bc-1234"},
    "spec": {"bucketClaimRef": {"name": "photos", "namespace": "shop", "uid": "1234"}},
}


def test_the_bucket_object_names_its_claim() -> None:
    with DiscoveryServer({BUCKETS_PATH + "bc-1234": BUCKET}) as cluster:
        claims = KubernetesClaims(cluster, "service-account-token", None)
        assert claims.claim_of("bc-1234") == Claim("shop", "photos")
        assert claims.claim_of("bc-unknown") == Claim(None, "bc-unknown")  # 404: COSI's name


def test_outside_a_pod_the_claim_is_cosis_name(tmp_path: Path) -> None:
    assert isinstance(in_cluster({}, tmp_path), NoCluster)
    assert isinstance(in_cluster({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, tmp_path), NoCluster)  # no token
    (tmp_path / "token").write_text("service-account-token\n")
    assert isinstance(in_cluster({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, tmp_path), KubernetesClaims)
    assert NoCluster().claim_of("bc-1") == Claim(None, "bc-1")
