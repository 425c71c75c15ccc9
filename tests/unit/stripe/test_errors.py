"""Each stripe-python error class -> the domain error (errors.map_stripe_error)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import stripe

from payment_service.adapters.stripe import errors
from payment_service.adapters.stripe.errors import CallContext, map_stripe_error
from payment_service.domain.errors import (
    CardDeclined,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from payment_service.domain.processor import ProcessorCardDeclined
from payment_service.domain.states import PaymentState

CTX = CallContext("create_payment_intent", "payment_intent", "pi_123")


def body(**error: Any) -> dict[str, Any]:
    return {"error": error}


def test_card_error_carries_codes_and_the_payment_intent() -> None:
    pi = {
        "id": "pi_9",
        "object": "payment_intent",
        "status": "requires_payment_method",
        "amount": 1000,
        "currency": "usd",
        "metadata": {"payment_id": "pay_9"},
        "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds"},
    }
    exc = stripe.CardError(
        "Your card has insufficient funds.",
        None,
        "card_declined",
        http_status=402,
        json_body=body(
            type="card_error",
            code="card_declined",
            decline_code="insufficient_funds",
            payment_intent=pi,
        ),
    )
    mapped = map_stripe_error(exc, CTX)
    assert isinstance(mapped, ProcessorCardDeclined)
    assert isinstance(mapped, CardDeclined)
    assert isinstance(mapped, FailedPrecondition)
    assert (mapped.reason, mapped.code, mapped.decline_code, mapped.payment_id) == (
        "CARD_DECLINED",
        "card_declined",
        "insufficient_funds",
        "pay_9",
    )
    assert mapped.message == "Your card has insufficient funds."
    assert mapped.metadata["decline_code"] == "insufficient_funds"
    assert mapped.payment_intent is not None
    assert mapped.payment_intent.state is PaymentState.REQUIRES_PAYMENT_METHOD


def test_card_error_without_decline_code_uses_the_default_given() -> None:
    exc = stripe.CardError(
        "Your card was declined.",
        None,
        "card_declined",
        http_status=402,
        json_body=body(code="card_declined"),
    )
    plain = map_stripe_error(exc, CTX)
    assert isinstance(plain, ProcessorCardDeclined)
    assert (plain.decline_code, plain.payment_intent) == ("", None)
    filled = map_stripe_error(exc, CTX, default_decline_code="generic_decline")
    assert isinstance(filled, ProcessorCardDeclined)
    assert filled.decline_code == "generic_decline"


def test_invalid_parameter_names_the_parameter() -> None:
    exc = stripe.InvalidRequestError(
        "Invalid currency: xyz", "currency", "parameter_invalid_string", http_status=400
    )
    mapped = map_stripe_error(exc, CTX)
    assert type(mapped) is InvalidArgument
    assert [(v.field, v.description) for v in mapped.violations] == [
        ("currency", "Invalid currency: xyz")
    ]
    assert mapped.metadata == {"stripe_code": "parameter_invalid_string", "param": "currency"}


def test_state_problems_are_failed_precondition() -> None:
    exc = stripe.InvalidRequestError(
        "This PaymentIntent's status is succeeded.",
        None,
        "payment_intent_unexpected_state",
        http_status=400,
    )
    mapped = map_stripe_error(exc, CTX)
    assert type(mapped) is FailedPrecondition
    assert mapped.reason == "PAYMENT_INTENT_UNEXPECTED_STATE"
    too_much = stripe.InvalidRequestError(
        "Refund too large", "amount", "amount_too_large", http_status=400
    )
    assert (
        type(map_stripe_error(too_much, CallContext("create_refund", "refund")))
        is FailedPrecondition
    )
    assert type(map_stripe_error(too_much, CTX)) is InvalidArgument


def test_missing_resource_is_not_found() -> None:
    exc = stripe.InvalidRequestError(
        "No such payment_intent: 'pi_123'", "intent", "resource_missing", http_status=404
    )
    mapped = map_stripe_error(exc, CTX)
    assert isinstance(mapped, NotFound)
    assert (mapped.resource, mapped.resource_id) == ("payment_intent", "pi_123")


def test_idempotency_error_is_failed_precondition() -> None:
    exc = stripe.IdempotencyError(
        "Keys for idempotent requests can only be used with the same parameters"
    )
    mapped = map_stripe_error(exc, CTX)
    assert type(mapped) is FailedPrecondition
    assert mapped.reason == errors.REASON_IDEMPOTENCY_CONFLICT


def test_rate_limit_is_resource_exhausted() -> None:
    mapped = map_stripe_error(stripe.RateLimitError("Too many requests", http_status=429), CTX)
    assert isinstance(mapped, ResourceExhausted)
    assert mapped.reason == errors.REASON_RATE_LIMITED


@pytest.mark.parametrize(
    "exc",
    [
        stripe.APIConnectionError("Network error", should_retry=True),
        stripe.APIError("Internal error", http_status=500),
        stripe.APIError("Service unavailable", http_status=503),
        stripe.APIError("Concurrent request with the same key", http_status=409),
        stripe.APIError("no status"),
    ],
)
def test_connection_errors_and_5xx_are_unavailable(exc: stripe.StripeError) -> None:
    mapped = map_stripe_error(exc, CTX)
    assert isinstance(mapped, Unavailable)
    assert mapped.reason == errors.REASON_UNREACHABLE


@pytest.mark.parametrize(
    "exc",
    [
        stripe.AuthenticationError(
            "Invalid API Key provided: sk_live_****************1234", http_status=401
        ),
        stripe.PermissionError(
            "The provided key 'rk_live_****1234' does not have access", http_status=403
        ),
    ],
)
def test_credentials_problems_are_unavailable_misconfigured_and_logged(
    exc: stripe.StripeError, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger=errors.__name__):
        mapped = map_stripe_error(exc, CTX)
    assert isinstance(mapped, Unavailable)
    assert mapped.reason == errors.REASON_MISCONFIGURED
    assert "sk_" not in mapped.message
    assert "rk_" not in mapped.message
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert all("_live_" not in r.getMessage() for r in caplog.records)


def test_other_4xx_api_error_is_unavailable_unexpected() -> None:
    mapped = map_stripe_error(stripe.APIError("Method Not Allowed", http_status=405), CTX)
    assert isinstance(mapped, Unavailable)
    assert mapped.reason == errors.REASON_UNEXPECTED_RESPONSE
