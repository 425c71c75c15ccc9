"""Domain errors: a stable reason code and ids, never a transport status.

The API layer maps each class to a gRPC code (see api/grpc/errors.py); the
reason travels to callers in ``google.rpc.ErrorInfo.reason``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid request field, named by its proto path (``metadata``, ``amount``)."""

    field: str
    description: str


class DomainError(Exception):
    """Base class. ``reason`` is UPPER_SNAKE and stable; ``metadata`` holds ids and values."""

    default_reason = "DOMAIN_ERROR"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgument(DomainError):
    """Malformed or out-of-range input."""

    default_reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        *,
        violations: list[FieldViolation] | None = None,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.violations: list[FieldViolation] = list(violations or [])

    @classmethod
    def field(cls, field: str, description: str) -> InvalidArgument:
        return cls(f"{field}: {description}", violations=[FieldViolation(field, description)])


class RequestIdReused(InvalidArgument):
    """The same caller sent a known request_id with a different body (AIP-155)."""

    default_reason = "REQUEST_ID_REUSED"

    def __init__(self, request_id: str) -> None:
        super().__init__(
            "request_id was already used with a different request body",
            violations=[FieldViolation("request_id", "already used with a different body")],
            metadata={"request_id": request_id},
        )


class NotFound(DomainError):
    """Unknown id, or an id that belongs to another account."""

    default_reason = "NOT_FOUND"

    def __init__(self, resource: str, resource_id: str) -> None:
        super().__init__(
            f"{resource} {resource_id!r} not found",
            metadata={"resource": resource, "id": resource_id},
        )
        self.resource = resource
        self.resource_id = resource_id


def found(value: T | None, resource: str, resource_id: str) -> T:
    """``value``, or NotFound(resource, resource_id) when the lookup found none."""
    if value is None:
        raise NotFound(resource, resource_id)
    return value


class FailedPrecondition(DomainError):
    """The action is illegal in the object's current state."""

    default_reason = "FAILED_PRECONDITION"


class InvalidTransition(FailedPrecondition):
    """A state machine refused a move (e.g. capture of a succeeded payment)."""

    default_reason = "INVALID_STATE_TRANSITION"

    def __init__(self, entity: str, entity_id: str, current: str, target: str) -> None:
        super().__init__(
            f"{entity} {entity_id} cannot move from {current} to {target}",
            metadata={"entity": entity, "id": entity_id, "state": current, "target": target},
        )
        self.entity = entity
        self.entity_id = entity_id
        self.current = current
        self.target = target


class CardDeclined(FailedPrecondition):
    """The processor declined the card; codes are Stripe's (``card_declined``, ``insufficient_funds``)."""

    default_reason = "CARD_DECLINED"

    def __init__(
        self, message: str, *, code: str = "", decline_code: str = "", payment_id: str = ""
    ) -> None:
        metadata = {"code": code, "decline_code": decline_code}
        if payment_id:
            metadata["payment_id"] = payment_id
        super().__init__(message, metadata=metadata)
        self.code = code
        self.decline_code = decline_code
        self.payment_id = payment_id


class Conflict(DomainError):
    """A uniqueness rule was broken (a second row for the same Stripe id or request)."""

    default_reason = "ALREADY_EXISTS"

    def __init__(self, message: str, *, constraint: str = "") -> None:
        super().__init__(message, metadata={"constraint": constraint} if constraint else None)
        self.constraint = constraint


class Aborted(DomainError):
    """A concurrent update won the race; the caller may retry."""

    default_reason = "CONCURRENT_UPDATE"


class Unauthenticated(DomainError):
    """Missing or invalid credentials."""

    default_reason = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    """Valid credentials without the needed scope."""

    default_reason = "MISSING_SCOPE"


class RetryableError(DomainError):
    """An error worth retrying after ``retry_after_seconds`` (sent as gRPC RetryInfo)."""

    def __init__(
        self, message: str, *, retry_after_seconds: float = 1.0, reason: str | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after_seconds = retry_after_seconds


class ResourceExhausted(RetryableError):
    """Rate limited (by us or by Stripe); retry after ``retry_after_seconds``."""

    default_reason = "RATE_LIMITED"


class Unavailable(RetryableError):
    """A dependency (Stripe, the database) is unreachable or timed out; retryable."""

    default_reason = "UNAVAILABLE"


def outcome_unknown(error: DomainError) -> bool:
    """Errors after which Stripe may or may not have acted: keep the row PENDING."""
    return isinstance(error, Unavailable | ResourceExhausted)
