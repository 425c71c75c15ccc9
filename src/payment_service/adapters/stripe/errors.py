"""Stripe exceptions -> domain errors, in one place.

Unavailable means "not known whether Stripe did it": the caller keeps its row
PENDING and repeats the call later with the same idempotency key. Messages are
Stripe's user-facing texts or our own; never the API key, never a request body.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import stripe

from payment_service.adapters.stripe import mapping
from payment_service.domain.errors import (
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from payment_service.domain.processor import ProcessorCardDeclined, RemotePaymentIntent

logger = logging.getLogger(__name__)

# Reasons (google.rpc.ErrorInfo.reason) this module produces.
REASON_UNREACHABLE = "PROCESSOR_UNAVAILABLE"
REASON_TIMEOUT = "PROCESSOR_TIMEOUT"
REASON_DEADLINE_TOO_SHORT = "DEADLINE_TOO_SHORT"
REASON_MISCONFIGURED = "PROCESSOR_MISCONFIGURED"
REASON_UNEXPECTED_RESPONSE = "PROCESSOR_UNEXPECTED_RESPONSE"
REASON_RATE_LIMITED = "PROCESSOR_RATE_LIMITED"
REASON_REJECTED = "PROCESSOR_REJECTED_REQUEST"
REASON_IDEMPOTENCY_CONFLICT = "PROCESSOR_IDEMPOTENCY_CONFLICT"

# InvalidRequestError codes that mean "not in this state", not "bad input".
STATE_CODES = frozenset(
    {
        "payment_intent_unexpected_state",
        "payment_intent_action_required",
        "payment_intent_authentication_failure",
        "payment_intent_incompatible_payment_method",
        "payment_intent_payment_attempt_failed",
        "charge_already_captured",
        "charge_already_refunded",
        "charge_disputed",
        "charge_expired_for_capture",
        "charge_not_refundable",
        "refund_disputed_payment",
        "customer_max_payment_methods",
        "payment_method_unexpected_state",
        "balance_insufficient",
    }
)
# Codes that are a state problem only for some operations (refund more than remains).
REFUND_STATE_CODES = frozenset({"amount_too_large"})
RESOURCE_MISSING = "resource_missing"


@dataclass(frozen=True, slots=True)
class CallContext:
    """What the failing call was about, for NotFound and log lines."""

    operation: str
    resource: str = "stripe_object"
    resource_id: str = ""


def _message(exc: stripe.StripeError, fallback: str) -> str:
    text = exc.user_message
    return text if isinstance(text, str) and text else fallback


def card_declined(
    exc: stripe.CardError,
    payment_intent: RemotePaymentIntent | None,
    *,
    default_decline_code: str = "",
) -> ProcessorCardDeclined:
    error = exc.error
    decline = (error.decline_code if error else None) or ""
    if not decline and payment_intent is not None:
        decline = payment_intent.last_error_decline_code or ""
    code = exc.code or (error.code if error else None) or "card_declined"
    return ProcessorCardDeclined(
        _message(exc, "The card was declined."),
        code=code,
        decline_code=decline or default_decline_code,
        payment_id=(payment_intent.payment_id or "") if payment_intent else "",
        payment_intent=payment_intent,
    )


def payment_intent_of(exc: stripe.StripeError) -> RemotePaymentIntent | None:
    """The PaymentIntent Stripe attached to the error (today's API does, for PI calls)."""
    error = exc.error
    pi = error.payment_intent if error is not None else None
    if pi is None:
        return None
    try:
        return mapping.to_payment_intent(pi.to_dict())
    except mapping.StripeShapeError:
        return None


def _invalid_request(exc: stripe.InvalidRequestError, ctx: CallContext) -> DomainError:
    code = exc.code or ""
    param = exc.param or ""
    message = _message(exc, "Stripe rejected the request")
    meta = {"stripe_code": code} if code else {}
    if param:
        meta["param"] = param
    if exc.http_status == 404 or code == RESOURCE_MISSING:
        return NotFound(ctx.resource, ctx.resource_id or param)
    if code in STATE_CODES or (code in REFUND_STATE_CODES and "refund" in ctx.operation):
        return FailedPrecondition(message, reason=code.upper(), metadata=meta)
    violations = [FieldViolation(param, message)] if param else []
    return InvalidArgument(message, violations=violations, reason=REASON_REJECTED, metadata=meta)


def map_stripe_error(
    exc: stripe.StripeError,
    ctx: CallContext,
    *,
    payment_intent: RemotePaymentIntent | None = None,
    default_decline_code: str = "",
) -> DomainError:
    """The domain error for a Stripe exception (``payment_intent``: for card errors)."""
    if isinstance(exc, stripe.CardError):
        return card_declined(
            exc, payment_intent or payment_intent_of(exc), default_decline_code=default_decline_code
        )
    if isinstance(exc, stripe.RateLimitError):
        return ResourceExhausted("Stripe is rate limiting requests", reason=REASON_RATE_LIMITED)
    if isinstance(exc, stripe.IdempotencyError) and exc.http_status == 409:
        # An earlier attempt with the same key is still being processed at Stripe.
        return Unavailable(
            "payment processor is still working on an earlier attempt of this request",
            reason=REASON_UNREACHABLE,
        )
    if isinstance(exc, stripe.IdempotencyError):
        logger.error(
            "idempotency key reused with other parameters", extra={"operation": ctx.operation}
        )
        return FailedPrecondition(
            "the same idempotency key was used with different parameters",
            reason=REASON_IDEMPOTENCY_CONFLICT,
        )
    if isinstance(exc, stripe.InvalidRequestError):
        return _invalid_request(exc, ctx)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        logger.error(
            "Stripe refused the service's credentials",
            extra={
                "operation": ctx.operation,
                "http_status": exc.http_status,
                "error": type(exc).__name__,
            },
        )
        return Unavailable("payment processor is misconfigured", reason=REASON_MISCONFIGURED)
    if isinstance(exc, stripe.APIConnectionError):
        return Unavailable("payment processor is unreachable", reason=REASON_UNREACHABLE)
    status = exc.http_status
    if status is None or status >= 500 or status == 409:
        return Unavailable("payment processor failed to answer", reason=REASON_UNREACHABLE)
    logger.error(
        "unexpected answer from Stripe",
        extra={"operation": ctx.operation, "http_status": status, "error": type(exc).__name__},
    )
    return Unavailable(
        "payment processor gave an unexpected answer", reason=REASON_UNEXPECTED_RESPONSE
    )


def timed_out(ctx: CallContext, *, deadline_bound: bool) -> Unavailable:
    if deadline_bound:
        return Unavailable(
            "deadline reached while waiting for the payment processor", reason=REASON_TIMEOUT
        )
    return Unavailable("payment processor timed out", reason=REASON_TIMEOUT)


def deadline_too_short(ctx: CallContext) -> Unavailable:
    return Unavailable(
        "not enough time left before the deadline to call the payment processor",
        reason=REASON_DEADLINE_TOO_SHORT,
    )


def unreadable(ctx: CallContext, exc: mapping.StripeShapeError) -> Unavailable:
    logger.error(
        "unreadable answer from Stripe", extra={"operation": ctx.operation, "problem": str(exc)}
    )
    return Unavailable(
        "payment processor gave an unexpected answer", reason=REASON_UNEXPECTED_RESPONSE
    )
