"""What the driver answers when it cannot do what the sidecar asked: a gRPC status and a reason.

COSI's sidecar retries UNAVAILABLE, ABORTED and DEADLINE_EXCEEDED with backoff and stops on what
a retry cannot change (INVALID_ARGUMENT, ALREADY_EXISTS, OUT_OF_RANGE ...). The reason is shown to
the cluster's users in the Bucket's or BucketAccess's status: it names what to fix, never a secret.
"""

from __future__ import annotations

import grpc

from loopback.client.errors import ApiProblem, ClientError
from loopback.client.http import ApiUnreachable


class DriverError(Exception):
    """A call the driver refuses or cannot finish now, with the status code COSI acts on."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> DriverError:
    return DriverError(grpc.StatusCode.INVALID_ARGUMENT, message)


def unavailable(message: str) -> DriverError:
    return DriverError(grpc.StatusCode.UNAVAILABLE, message)


STATUS_CODES = {
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ABORTED,
    413: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.UNAVAILABLE,
}


def reason(error: ClientError) -> str:
    """The API's refusal in one line: its detail, and each field it named."""
    if isinstance(error, ApiProblem) and error.errors:
        return "; ".join(f"{e.field}: {e.detail}" for e in error.errors)
    return str(error)


def from_client(error: ClientError) -> DriverError:
    """The status of an API call that failed: 5xx and an unreachable API are worth a retry."""
    if isinstance(error, ApiUnreachable):
        return unavailable(f"Loopback's API cannot be reached now: {error}")
    if isinstance(error, ApiProblem):
        if error.status >= 500:
            return unavailable(f"Loopback's API answered {error.status}: {reason(error)}")
        code = STATUS_CODES.get(error.status, grpc.StatusCode.FAILED_PRECONDITION)
        return DriverError(code, f"Loopback refused ({error.status}): {reason(error)}")
    return DriverError(grpc.StatusCode.UNAUTHENTICATED, str(error))  # no token, a bad API URL
