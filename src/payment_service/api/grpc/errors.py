"""Domain errors to gRPC statuses with google.rpc details (ErrorInfo, BadRequest, RetryInfo).

``Conflict`` maps to ALREADY_EXISTS: it means a uniqueness rule was broken (the
same Stripe object or payment method twice), which retrying will not fix; a lost
race is ``Aborted`` and maps to ABORTED, which a caller may retry.

Whatever an error carries, its answer stays far below the 8 KiB of trailers a gRPC
client accepts (grpc-message and grpc-status-details-bin together): the message and
every detail text are cut to a few hundred bytes, a card number in them is blanked,
and field violations are dropped from the end until the details fit. The use cases
already keep caller input out of their messages; this is the last line.
"""

from __future__ import annotations

import math
import re

import grpc
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from payment_service.domain import errors
from payment_service.domain.card_numbers import contains_card_number

ERROR_DOMAIN = "payments.v1"
INTERNAL_MESSAGE = "internal error"
MAX_MESSAGE_BYTES = 400
MAX_TEXT_BYTES = 200  # an ErrorInfo metadata value, a violation's field or description
MAX_KEY_BYTES = 64
MAX_METADATA_ENTRIES = 10
MAX_FIELD_VIOLATIONS = 10
MAX_DETAILS_BYTES = 3072  # the serialized google.rpc.Status (base64 in the trailer)
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,}")
_CARD_NUMBER_REMOVED = "[card number removed]"

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


def bounded_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes (with "..." when cut), card numbers blanked."""
    window = text[: limit + 64]  # wide enough to hold a whole card number at the cut
    if contains_card_number(window):
        window = _DIGIT_RUN.sub(_unless_card_number, window)
    encoded = window.encode("utf-8")
    if len(encoded) <= limit and len(text) <= limit + 64:
        return window
    return encoded[: limit - 3].decode("utf-8", errors="ignore") + "..."


def _unless_card_number(run: re.Match[str]) -> str:
    return _CARD_NUMBER_REMOVED if contains_card_number(run.group()) else run.group()


def _error_info(error: errors.DomainError) -> error_details_pb2.ErrorInfo:
    metadata = {
        bounded_text(key, MAX_KEY_BYTES): bounded_text(value, MAX_TEXT_BYTES)
        for key, value in list(error.metadata.items())[:MAX_METADATA_ENTRIES]
    }
    return error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=metadata)


def _field_violations(
    error: errors.DomainError,
) -> list[error_details_pb2.BadRequest.FieldViolation]:
    if not isinstance(error, errors.InvalidArgument):
        return []
    return [
        error_details_pb2.BadRequest.FieldViolation(
            field=bounded_text(v.field, MAX_TEXT_BYTES),
            description=bounded_text(v.description, MAX_TEXT_BYTES),
        )
        for v in error.violations[:MAX_FIELD_VIOLATIONS]
    ]


def _quota_failure(error: errors.ResourceExhausted) -> error_details_pb2.QuotaFailure:
    """Which limit a rate-limited call hit, and for whom (security/rate_limits.py)."""
    subject = bounded_text(error.metadata.get("quota_subject", ""), MAX_TEXT_BYTES)
    description = bounded_text(error.message, MAX_TEXT_BYTES)
    violation = error_details_pb2.QuotaFailure.Violation(subject=subject, description=description)
    return error_details_pb2.QuotaFailure(violations=[violation])


def rich_status_for(error: errors.DomainError) -> status_pb2.Status:
    """The google.rpc.Status for a domain error: always ErrorInfo, plus BadRequest or RetryInfo."""
    code = status_code_for(error)
    if code is grpc.StatusCode.INTERNAL:
        return internal_status()
    message = bounded_text(error.message, MAX_MESSAGE_BYTES)
    info = _packed(_error_info(error))
    retry = []
    if isinstance(error, errors.RetryableError):
        delay = _retry_delay(error.retry_after_seconds)
        retry.append(_packed(error_details_pb2.RetryInfo(retry_delay=delay)))
    if isinstance(error, errors.ResourceExhausted) and "limit" in error.metadata:
        retry.append(_packed(_quota_failure(error)))
    violations = _field_violations(error)
    while True:
        bad_request = (
            [_packed(error_details_pb2.BadRequest(field_violations=violations))]
            if violations
            else []
        )
        status = status_pb2.Status(
            code=code.value[0], message=message, details=[info, *bad_request, *retry]
        )
        if not violations or status.ByteSize() <= MAX_DETAILS_BYTES:
            return status
        violations.pop()


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
