"""Domain errors to gRPC statuses with google.rpc details (ErrorInfo, BadRequest, RetryInfo).

``Conflict`` maps to ALREADY_EXISTS: it means a uniqueness rule was broken (the
same Stripe object or payment method twice), which retrying will not fix; a lost
race is ``Aborted`` and maps to ABORTED, which a caller may retry.
"""

from __future__ import annotations

import math

import grpc
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from payment_service.domain import errors

ERROR_DOMAIN = "payments.v1"
INTERNAL_MESSAGE = "internal error"

STATUS_BY_ERROR: dict[type[errors.DomainError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Aborted: grpc.StatusCode.ABORTED,
    errors.Conflict: grpc.StatusCode.ALREADY_EXISTS,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
}

_code_cache: dict[type[errors.DomainError], grpc.StatusCode] = {}


def status_code_for(error: errors.DomainError) -> grpc.StatusCode:
    """The code of the nearest mapped class in the error's MRO (subclasses inherit their parent's)."""
    error_type = type(error)
    code = _code_cache.get(error_type)
    if code is None:
        code = next(
            (STATUS_BY_ERROR[c] for c in error_type.__mro__ if c in STATUS_BY_ERROR),
            grpc.StatusCode.INTERNAL,
        )
        _code_cache[error_type] = code
    return code


def _packed(message: Message) -> AnyProto:
    packed = AnyProto()
    packed.Pack(message)
    return packed


def _retry_delay(seconds: float) -> Duration:
    whole = math.floor(seconds)
    return Duration(seconds=whole, nanos=int((seconds - whole) * 1e9))


def rich_status_for(error: errors.DomainError) -> status_pb2.Status:
    """The google.rpc.Status for a domain error: always ErrorInfo, plus BadRequest or RetryInfo."""
    code = status_code_for(error)
    if code is grpc.StatusCode.INTERNAL:
        return internal_status()
    details = [
        _packed(
            error_details_pb2.ErrorInfo(
                reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata
            )
        )
    ]
    if isinstance(error, errors.InvalidArgument) and error.violations:
        details.append(
            _packed(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=v.field, description=v.description
                        )
                        for v in error.violations
                    ]
                )
            )
        )
    if isinstance(error, errors.RetryableError):
        details.append(
            _packed(
                error_details_pb2.RetryInfo(retry_delay=_retry_delay(error.retry_after_seconds))
            )
        )
    return status_pb2.Status(code=code.value[0], message=error.message, details=details)


def internal_status() -> status_pb2.Status:
    """The status for a bug: a generic message, nothing from the exception."""
    return status_pb2.Status(
        code=code_pb2.INTERNAL,
        message=INTERNAL_MESSAGE,
        details=[_packed(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN))],
    )


def to_grpc_status(status: status_pb2.Status) -> grpc.Status:
    """A grpc.Status (code, details, trailing metadata with grpc-status-details-bin)."""
    return rpc_status.to_status(status)
