"""The payment capability's settings, requests and small shared rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.entities import Payment
from payment_service.domain.errors import (
    CardDeclined,
    FailedPrecondition,
)
from payment_service.domain.pagination import PageRequest
from payment_service.domain.states import CaptureMethod, PaymentState

# Written on every PaymentIntent by the gateway; callers may not use them.
RESERVED_METADATA_KEYS = ("payment_id",)
CONFIRMABLE = frozenset(
    {
        PaymentState.REQUIRES_PAYMENT_METHOD,
        PaymentState.REQUIRES_CONFIRMATION,
        PaymentState.REQUIRES_ACTION,
    }
)
CANCELABLE = CONFIRMABLE | {PaymentState.REQUIRES_CAPTURE, PaymentState.PROCESSING}


@dataclass(frozen=True, slots=True)
class PaymentRules:
    currencies: frozenset[str]
    refresh_after_s: float = 5.0
    cache_ttl_s: float = 300.0
    stripe_lease_s: float = 30.0  # how long one caller may hold a row while it talks to Stripe


@dataclass(frozen=True, slots=True)
class CreatePayment:
    request_id: str
    account_id: str
    amount: int
    currency: str
    payment_method: str = ""
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    confirm: bool = False
    description: str = ""
    receipt_email: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)

    def fields(self, currency: str) -> dict[str, object]:
        """What the request_id fingerprint covers (the currency as normalized)."""
        return {
            "account_id": self.account_id,
            "amount": self.amount,
            "currency": currency,
            "payment_method": self.payment_method,
            "capture_method": self.capture_method.value,
            "confirm": self.confirm,
            "description": self.description,
            "receipt_email": self.receipt_email,
            "metadata": dict(self.metadata),
        }


@dataclass(frozen=True, slots=True)
class ListPayments:
    account_id: str
    page: PageRequest
    states: frozenset[PaymentState] = frozenset()
    created_after: datetime | None = None
    created_before: datetime | None = None


def cache_key(payment_id: str) -> str:
    return f"payment:{payment_id}"


def stripe_id(payment: Payment) -> str:
    if payment.stripe_payment_intent_id is None:
        raise FailedPrecondition(
            f"payment {payment.id} is not yet known at Stripe; retry CreatePayment with its request_id",
            reason="PAYMENT_PENDING",
            metadata={"id": payment.id},
        )
    return payment.stripe_payment_intent_id


def declined(payment: Payment, error: CardDeclined) -> CardDeclined:
    """The decline as the caller sees it: Stripe's codes and our payment id."""
    return CardDeclined(
        error.message or "the card was declined",
        code=error.code or "card_declined",
        decline_code=error.decline_code,
        payment_id=payment.id,
    )
