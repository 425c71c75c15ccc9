"""Failed calls as typed exceptions, decoded from the ``google.rpc.Status`` the service
sends in the ``grpc-status-details-bin`` trailer (ErrorInfo, RetryInfo, BadRequest,
QuotaFailure).

Every exception is a ``PaymentServiceError``: a ``grpc.RpcError`` with ``code()`` and
``details()`` as gRPC's own (so ``except grpc.RpcError`` code keeps working), the call's
``trailers``, the ``reason``, ``domain`` and ``metadata`` of ErrorInfo, ``retry_after``
(seconds, from RetryInfo), the ``field_violations`` of BadRequest and the
``quota_violations`` of QuotaFailure. The class comes from the reason where one has its own
(``CardDeclined``, ``RequestIdReused``), else from the status code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import grpc
import grpc.aio
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

from payments_client import reasons

DETAILS_KEY = "grpc-status-details-bin"
ERROR_DOMAIN = "payments.v1"

Code = grpc.StatusCode
Metadatum = tuple[str, str | bytes]


@dataclass(frozen=True)
class FieldViolation:
    """One invalid request field (``amount``, ``metadata``) and what is wrong with it."""

    field: str
    description: str


@dataclass(frozen=True)
class QuotaViolation:
    """Which limit was hit, for whom (``caller:svc-orders``, ``peer:10.0.0.7``)."""

    subject: str
    description: str


class PaymentServiceError(grpc.RpcError):
    """A failed call: its status code and message, and the details the service sent."""

    grpc_code: ClassVar[grpc.StatusCode | None] = None

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str = "",
        domain: str = "",
        metadata: Mapping[str, str] | None = None,
        retry_after: float | None = None,
        field_violations: Iterable[FieldViolation] = (),
        quota_violations: Iterable[QuotaViolation] = (),
        trailers: Iterable[Metadatum] = (),
    ) -> None:
        super().__init__(f"{code.name}: {message}" + (f" ({reason})" if reason else ""))
        self._code = code
        self.trailers = tuple(trailers)  # the call's, as received
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata: Mapping[str, str] = dict(metadata or {})
        self.retry_after = retry_after
        self.field_violations = tuple(field_violations)
        self.quota_violations = tuple(quota_violations)

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        """The status message (gRPC's name for it)."""
        return self.message

    @property
    def retryable(self) -> bool:
        """Worth repeating (with the same request_id for a write)."""
        return self._code in _RETRYABLE


_RETRYABLE = frozenset(
    {Code.UNAVAILABLE, Code.RESOURCE_EXHAUSTED, Code.ABORTED, Code.DEADLINE_EXCEEDED}
)


class InvalidArgument(PaymentServiceError):
    """A request field is malformed or out of range; ``field_violations`` names it."""

    grpc_code = Code.INVALID_ARGUMENT


class RequestIdReused(InvalidArgument):
    """This request_id was already used with a different request body."""

    @property
    def request_id(self) -> str:
        return self.metadata.get("request_id", "")


class NotFound(PaymentServiceError):
    """Unknown id, or an object of an account the caller may not see."""

    grpc_code = Code.NOT_FOUND

    @property
    def resource(self) -> str:
        return self.metadata.get("resource", "")

    @property
    def resource_id(self) -> str:
        return self.metadata.get("id", "")


class FailedPrecondition(PaymentServiceError):
    """Not allowed in the object's current state (``reason`` says which rule)."""

    grpc_code = Code.FAILED_PRECONDITION


class CardDeclined(FailedPrecondition):
    """The card was declined; the payment is stored with its last error."""

    @property
    def decline_code(self) -> str:
        """Stripe's decline code (``generic_decline``, ``insufficient_funds``)."""
        return self.metadata.get("decline_code", "")

    @property
    def card_error_code(self) -> str:
        """Stripe's error code (``card_declined``, ``expired_card``)."""
        return self.metadata.get("code", "")

    @property
    def payment_id(self) -> str:
        return self.metadata.get("payment_id", "")


class AlreadyExists(PaymentServiceError):
    """A uniqueness rule was broken (the same payment method attached twice)."""

    grpc_code = Code.ALREADY_EXISTS


class Aborted(PaymentServiceError):
    """A concurrent update won the race; retrying is safe."""

    grpc_code = Code.ABORTED


class AuthenticationRequired(PaymentServiceError):
    """The token is missing, invalid or expired (``reason`` says which)."""

    grpc_code = Code.UNAUTHENTICATED


class PermissionDenied(PaymentServiceError):
    """The token lacks the scope the method needs, or is restricted to another account."""

    grpc_code = Code.PERMISSION_DENIED

    @property
    def scope(self) -> str:
        return self.metadata.get("scope", "")


class RateLimited(PaymentServiceError):
    """Too many requests; retry after ``retry_after`` seconds."""

    grpc_code = Code.RESOURCE_EXHAUSTED


class Unavailable(PaymentServiceError):
    """Stripe or the database could not be reached in time. On a write the outcome is
    not known yet: retry with the same request_id (the service finishes the work either
    way, never twice)."""

    grpc_code = Code.UNAVAILABLE


class DeadlineExceeded(PaymentServiceError):
    """The caller's deadline ran out; as with Unavailable, a write's outcome is unknown."""

    grpc_code = Code.DEADLINE_EXCEEDED


class Internal(PaymentServiceError):
    """A bug in the service; the message carries nothing more."""

    grpc_code = Code.INTERNAL


_BY_REASON: dict[str, type[PaymentServiceError]] = {
    reasons.CARD_DECLINED: CardDeclined,
    reasons.REQUEST_ID_REUSED: RequestIdReused,
}
_BY_CODE: dict[grpc.StatusCode, type[PaymentServiceError]] = {
    cls.grpc_code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        FailedPrecondition,
        AlreadyExists,
        Aborted,
        AuthenticationRequired,
        PermissionDenied,
        RateLimited,
        Unavailable,
        DeadlineExceeded,
        Internal,
    )
    if cls.grpc_code is not None
}


def error_class(code: grpc.StatusCode, reason: str) -> type[PaymentServiceError]:
    """The exception class for a status code and ErrorInfo reason."""
    by_reason = _BY_REASON.get(reason)
    if by_reason is not None and by_reason.grpc_code is code:
        return by_reason
    return _BY_CODE.get(code, PaymentServiceError)


def from_rpc_error(error: grpc.RpcError) -> PaymentServiceError:
    """The typed exception for a failed call (sync ``grpc.RpcError`` or ``AioRpcError``)."""
    if isinstance(error, PaymentServiceError):
        return error
    if not isinstance(error, grpc.aio.AioRpcError | grpc.Call):
        return PaymentServiceError(Code.UNKNOWN, str(error))
    trailers = tuple(error.trailing_metadata() or ())
    return from_status(error.code(), error.details() or "", trailers)


def from_status(
    code: grpc.StatusCode, message: str, trailers: Iterable[Metadatum] = ()
) -> PaymentServiceError:
    """The typed exception for a status code, its message and the call's trailers (where
    the rich status travels, if there is one)."""
    trailers = tuple(trailers)
    status = _status_details(trailers)
    info = error_details_pb2.ErrorInfo()
    retry = error_details_pb2.RetryInfo()
    bad_request = error_details_pb2.BadRequest()
    quota = error_details_pb2.QuotaFailure()
    retry_after: float | None = None
    for detail in status.details if status is not None else ():
        if detail.Unpack(retry):
            retry_after = retry.retry_delay.ToTimedelta().total_seconds()
        else:
            # Each Unpack checks the type URL first and leaves its target alone on a mismatch.
            _ = detail.Unpack(info) or detail.Unpack(bad_request) or detail.Unpack(quota)
    cls = error_class(code, info.reason)
    return cls(
        code,
        message,
        reason=info.reason,
        domain=info.domain,
        metadata=dict(info.metadata),
        retry_after=retry_after,
        field_violations=[
            FieldViolation(v.field, v.description) for v in bad_request.field_violations
        ],
        quota_violations=[QuotaViolation(v.subject, v.description) for v in quota.violations],
        trailers=trailers,
    )


def _status_details(trailers: Iterable[Metadatum]) -> status_pb2.Status | None:
    """The google.rpc.Status in the trailers, or None (none sent, or not readable)."""
    for key, value in trailers:
        if key == DETAILS_KEY and isinstance(value, bytes):
            try:
                return status_pb2.Status.FromString(value)
            except DecodeError:
                return None
    return None
