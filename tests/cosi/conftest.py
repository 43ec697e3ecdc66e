"""The driver as COSI's sidecar meets it: a unix socket, the generated gRPC stubs, and behind it a
real Loopback API (uvicorn over HTTP) with its worker and the session's SeaweedFS.

The driver is a client of the API and never opens the database, whose behaviour on PostgreSQL the
API's own tests prove: these run on SQLite alone, and a module's tests share one installation (each
test names its own buckets and keys), to keep them within a minute.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from loopback.app import create_app
from loopback.client.connection import Connection
from loopback.client.http import ApiClient
from loopback.cosi.claims import Claim, NoCluster
from loopback.cosi.proto import cosi_pb2 as pb
from loopback.cosi.proto import cosi_pb2_grpc as rpc
from loopback.cosi.server import Running, start
from loopback.cosi.servicer import Identity
from loopback.kit.settings import Settings
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from tests.conftest import runtime_over
from tests.live_server import LiveServer

TOKEN = "lbk_test-operator-token"
DRIVER = "cosi.loopback.dev"
CLUSTER = "test-cluster"
CLASS = {"organization": "demo", "project": "default", "provider": "local", "region": "local-1"}
S3 = pb.ObjectProtocol(type=pb.ObjectProtocol.S3)
KEY = pb.AuthenticationType(type=pb.AuthenticationType.KEY)


class Claims(NoCluster):
    """The cluster's answer for each Bucket a test names: its BucketClaim's namespace and name."""

    def __init__(self) -> None:
        self.known: dict[str, Claim] = {}

    def claim_of(self, bucket: str) -> Claim:
        return self.known.get(bucket) or super().claim_of(bucket)


@dataclass
class Sidecar:
    """What COSI's sidecar holds: a channel to the driver's socket and a stub per service."""

    endpoint: str
    api_url: str
    identity: rpc.IdentityStub
    provisioner: rpc.ProvisionerStub
    claims: Claims

    def create(self, name: str, timeout: float = 20, **parameters: str) -> Any:
        request = pb.DriverCreateBucketRequest(name=name, protocols=[S3], parameters={**CLASS, **parameters})
        return self.provisioner.DriverCreateBucket(request, timeout=timeout)

    def grant(self, account: str, *buckets: tuple[str, int], timeout: float = 20, **parameters: str) -> Any:
        request = pb.DriverGrantBucketAccessRequest(
            account_name=account,
            protocol=S3,
            authentication_type=KEY,
            parameters=parameters,
            buckets=[
                pb.DriverGrantBucketAccessRequest.AccessedBucket(
                    bucket_id=b, access_mode=pb.AccessMode(mode=m)
                )
                for b, m in buckets
            ],
        )
        return self.provisioner.DriverGrantBucketAccess(request, timeout=timeout)

    def revoke(self, account_id: str, *bucket_ids: str) -> Any:
        request = pb.DriverRevokeBucketAccessRequest(
            account_id=account_id,
            protocol=S3,
            authentication_type=KEY,
            buckets=[pb.DriverRevokeBucketAccessRequest.AccessedBucket(bucket_id=b) for b in bucket_ids],
        )
        return self.provisioner.DriverRevokeBucketAccess(request, timeout=20)

    def delete(self, bucket_id: str) -> Any:
        request = pb.DriverDeleteBucketRequest(bucket_id=bucket_id, parameters=CLASS)
        return self.provisioner.DriverDeleteBucket(request, timeout=20)


def refused(call: Any) -> grpc.RpcError:
    """The status a call ended with; fails when it succeeded."""
    try:
        call()
    except grpc.RpcError as error:
        return error
    raise AssertionError("the call succeeded")


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, seaweedfs: EmbeddedSeaweedFS) -> Iterator[Runtime]:
    """One migrated installation per module on SQLite, with SeaweedFS as provider ``local``."""
    directory = tmp_path_factory.mktemp("cosi")
    settings = Settings(
        data_dir=directory / "data",
        database_url=f"sqlite:///{directory / 'loopback.db'}",
        queue_url=None,
        queue_name=f"loopback-test-{secrets.token_hex(4)}",
        bootstrap_token=TOKEN,
        embedded_storage=False,
    )
    yield from runtime_over(settings, seaweedfs)


@pytest.fixture(scope="module")
def worker(runtime: Runtime) -> Iterator[None]:
    consumer = runtime.automation.create_consumer(2, embedded=True)
    consumer.shutdown_timeout = 10
    consumer.start()
    yield
    consumer.stop(graceful=True)


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # A unix socket's path is at most 107 bytes: pytest's tmp_path is often longer.
    directory = Path(tempfile.mkdtemp(prefix="cosi-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def api_url(runtime: Runtime, worker: None) -> Iterator[str]:
    with LiveServer(create_app(runtime)) as server:
        yield server.url


@pytest.fixture
def sidecar(api_url: str, socket_dir: Path) -> Iterator[Sidecar]:
    endpoint = f"unix://{socket_dir}/cosi.sock"
    claims = Claims()
    client = ApiClient(Connection(api_url, TOKEN, "test"), timeout=10)
    running: Running = start(endpoint, Identity(DRIVER, CLUSTER, 10.0), client, claims, threads=4)
    channel = grpc.insecure_channel(endpoint)  # as the sidecar dials COSI_ENDPOINT
    try:
        yield Sidecar(endpoint, api_url, rpc.IdentityStub(channel), rpc.ProvisionerStub(channel), claims)
    finally:
        channel.close()
        running.stop(grace=1)
        client.close()
