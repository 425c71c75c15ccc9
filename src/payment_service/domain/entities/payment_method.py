"""A saved payment method: only Stripe's token and display facts, never a card number or CVC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.clock import utcnow
from payment_service.domain.ids import new_id
from payment_service.domain.processor import RemotePaymentMethod
from payment_service.domain.states import PaymentMethodState
from payment_service.domain.transitions import PAYMENT_METHOD_TRANSITIONS


@dataclass(slots=True, kw_only=True)
class PaymentMethod:
    id: str
    account_id: str
    customer_id: str
    stripe_payment_method_id: str
    type: str = "card"
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    fingerprint: str | None = None
    billing_name: str | None = None
    state: PaymentMethodState = PaymentMethodState.ATTACHED
    create_time: datetime = field(default_factory=utcnow)
    update_time: datetime = field(default_factory=utcnow)

    @classmethod
    def from_remote(
        cls,
        remote: RemotePaymentMethod,
        *,
        account_id: str,
        customer_id: str,
        state: PaymentMethodState = PaymentMethodState.ATTACHED,
    ) -> PaymentMethod:
        """A new row for a Stripe payment method: its display facts, never card data."""
        return cls(
            id=new_id("pmt"),
            account_id=account_id,
            customer_id=customer_id,
            stripe_payment_method_id=remote.stripe_id,
            type=remote.type or "card",
            brand=remote.brand,
            last4=remote.last4,
            exp_month=remote.exp_month,
            exp_year=remote.exp_year,
            fingerprint=remote.fingerprint,
            billing_name=remote.billing_name,
            state=state,
        )

    def move_to(self, target: PaymentMethodState) -> None:
        PAYMENT_METHOD_TRANSITIONS.move(self, target)

    def detach(self) -> None:
        self.move_to(PaymentMethodState.DETACHED)
