"""COSI's gRPC methods: read the sidecar's message, call ``buckets`` or ``access``, answer COSI's message.

Each method answers within the call's deadline (``context.time_remaining()``); a ``DriverError``
or a refusal of the API ends the call with its status and reason (``errors``), and anything else
with INTERNAL and a line in the log (never a secret).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message

from loopback.client.errors import ClientError
from loopback.cosi.access import Access, Asked, Granted
from loopback.cosi.buckets import Buckets, Deadline, Install, ReadyBucket
from loopback.cosi.claims import Claims
from loopback.cosi.errors import DriverError, from_client, invalid
from loopback.cosi.parameters import access_parameters, placement
from loopback.cosi.proto import cosi_pb2 as pb

log = logging.getLogger("loopback.cosi")
S3 = pb.ObjectProtocol.Type.Name(pb.ObjectProtocol.S3)


@dataclass(frozen=True)
class Identity:
    name: str  # the driverName of the cluster's BucketClasses
    cluster: str | None  # the install link's cluster
    max_wait_seconds: float  # the longest a call waits when the sidecar set no deadline


def bucket_info(bucket: ReadyBucket) -> pb.ObjectProtocolAndBucketInfo:
    return pb.ObjectProtocolAndBucketInfo(
        s3=pb.S3BucketInfo(
            bucket_id=bucket.name,
            endpoint=bucket.endpoint,
            region=bucket.region,
            addressing_style=pb.S3AddressingStyle(style=bucket.addressing_style.upper()),
        )
    )


def s3_only(protocols: Any) -> None:
    """INVALID_ARGUMENT for a protocol other than S3: Loopback's buckets speak S3 alone."""
    other = [pb.ObjectProtocol.Type.Name(p.type) for p in protocols if p.type != pb.ObjectProtocol.S3]
    if other:
        raise invalid(f"Loopback's buckets serve S3 only, not {', '.join(other)}")


class Driver:
    """The Identity and Provisioner services, one method each of COSI's RPCs."""

    def __init__(self, identity: Identity, buckets: Buckets, access: Access, claims: Claims) -> None:
        self.identity = identity
        self.buckets = buckets
        self.access = access
        self.claims = claims

    def deadline(self, context: grpc.ServicerContext) -> Deadline:
        return Deadline(context.time_remaining(), self.identity.max_wait_seconds)

    def install(self, cosi_name: str) -> Install:
        claim = self.claims.claim_of(cosi_name)
        return Install(self.identity.cluster, claim.namespace, claim.name)

    def DriverGetInfo(
        self, request: pb.DriverGetInfoRequest, context: grpc.ServicerContext
    ) -> pb.DriverGetInfoResponse:
        return pb.DriverGetInfoResponse(
            name=self.identity.name, supported_protocols=[pb.ObjectProtocol(type=pb.ObjectProtocol.S3)]
        )

    def DriverCreateBucket(
        self, request: pb.DriverCreateBucketRequest, context: grpc.ServicerContext
    ) -> pb.DriverCreateBucketResponse:
        if not request.name:
            raise invalid("name is required")
        s3_only(request.protocols)
        where = placement(request.parameters)
        bucket = self.buckets.create(request.name, where, self.install(request.name), self.deadline(context))
        return pb.DriverCreateBucketResponse(bucket_id=bucket.ref.handle, protocols=bucket_info(bucket))

    def DriverGetExistingBucket(
        self, request: pb.DriverGetExistingBucketRequest, context: grpc.ServicerContext
    ) -> pb.DriverGetExistingBucketResponse:
        if not request.existing_bucket_id:
            raise invalid("existing_bucket_id is required")
        s3_only(request.protocols)
        where = placement(request.parameters) if request.parameters else None
        install = self.install(request.existing_bucket_id)
        bucket = self.buckets.existing(request.existing_bucket_id, where, install, self.deadline(context))
        return pb.DriverGetExistingBucketResponse(bucket_id=bucket.ref.handle, protocols=bucket_info(bucket))

    def DriverDeleteBucket(
        self, request: pb.DriverDeleteBucketRequest, context: grpc.ServicerContext
    ) -> pb.DriverDeleteBucketResponse:
        if not request.bucket_id:
            raise invalid("bucket_id is required")
        self.buckets.delete(request.bucket_id, self.deadline(context))
        return pb.DriverDeleteBucketResponse()

    def DriverGrantBucketAccess(
        self, request: pb.DriverGrantBucketAccessRequest, context: grpc.ServicerContext
    ) -> pb.DriverGrantBucketAccessResponse:
        if not request.account_name:
            raise invalid("account_name is required")
        if request.protocol.type != pb.ObjectProtocol.S3:
            protocol = pb.ObjectProtocol.Type.Name(request.protocol.type)
            raise invalid(f"Loopback's keys are S3 keys, not {protocol}")
        if request.authentication_type.type != pb.AuthenticationType.KEY:
            kind = pb.AuthenticationType.Type.Name(request.authentication_type.type)
            raise invalid(f"Loopback issues keys (authenticationType Key), not {kind}")
        options = access_parameters(request.parameters)
        asked = [Asked(b.bucket_id, pb.AccessMode.Mode.Name(b.access_mode.mode)) for b in request.buckets]
        granted = self.access.grant(request.account_name, asked, options, self.deadline(context))
        return self._granted(granted)

    @staticmethod
    def _granted(granted: Granted) -> pb.DriverGrantBucketAccessResponse:
        return pb.DriverGrantBucketAccessResponse(
            account_id=granted.ref.handle,
            buckets=[
                pb.DriverGrantBucketAccessResponse.BucketInfo(
                    bucket_id=b.ref.handle, bucket_info=bucket_info(b)
                )
                for b in granted.buckets
            ],
            credentials=pb.CredentialInfo(
                s3=pb.S3CredentialInfo(
                    access_key_id=granted.access_key_id, access_secret_key=granted.secret_access_key
                )
            ),
        )

    def DriverRevokeBucketAccess(
        self, request: pb.DriverRevokeBucketAccessRequest, context: grpc.ServicerContext
    ) -> pb.DriverRevokeBucketAccessResponse:
        if not request.account_id:
            raise invalid("account_id is required")
        self.access.revoke(request.account_id)
        return pb.DriverRevokeBucketAccessResponse()


Method = Callable[[Any, grpc.ServicerContext], Message]


def answered(method: Method, name: str) -> Method:
    """``method`` with its failures as statuses: a ``DriverError``'s, the API's, or INTERNAL."""

    def call(request: Any, context: grpc.ServicerContext) -> Message:
        try:
            return method(request, context)
        except DriverError as error:
            refusal = error
        except ClientError as error:
            refusal = from_client(error)
        except Exception:
            log.exception("%s failed", name)
            refusal = DriverError(grpc.StatusCode.INTERNAL, f"{name} failed in the driver; its log says why")
        log.info("%s: %s %s", name, refusal.code.name, refusal.message)
        context.abort(refusal.code, refusal.message)
        raise AssertionError("context.abort returns by raising")  # pragma: no cover

    return call


def handlers(driver: Driver) -> list[grpc.GenericRpcHandler]:
    """One handler per service of ``cosi.proto``, each method bound to ``driver``'s of its name."""
    found: list[grpc.GenericRpcHandler] = []
    for service in pb.DESCRIPTOR.services_by_name.values():
        methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
            m.name: grpc.unary_unary_rpc_method_handler(
                answered(getattr(driver, m.name), m.name),
                request_deserializer=getattr(pb, m.input_type.name).FromString,
                response_serializer=getattr(pb, m.output_type.name).SerializeToString,
            )
            for m in service.methods
        }
        found.append(grpc.method_handlers_generic_handler(service.full_name, methods))
    return found
