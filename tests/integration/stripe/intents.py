"""The PaymentIntent most gateway tests create: a card payment confirmed at once."""

from __future__ import annotations

from typing import Any

from payment_service.domain.processor import NewPaymentIntent


def card_payment(
    payment_id: str, amount: int, currency: str, customer: str, payment_method: str, **extra: Any
) -> NewPaymentIntent:
    return NewPaymentIntent(
        payment_id=payment_id,
        amount=amount,
        currency=currency,
        customer=customer,
        payment_method=payment_method,
        confirm=extra.pop("confirm", True),
        **extra,
    )
