"""A saved payment method: only Stripe's token and display facts, never a card number or CVC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from payment_service.domain.clock import utcnow
from payment_service.domain.ids import new_id
from payment_service.domain.processor import RemotePaymentMethod
from payment_service.domain.states import PaymentMethodState
from payment_service.domain.transitions import PAYMENT_METHOD_TRANSITIONS

# The display facts a payment method takes from Stripe's object (never card data).
DISPLAY_FACTS = ("brand", "last4", "exp_month", "exp_year", "fingerprint", "billing_name")


def _display_facts(remote: RemotePaymentMethod) -> dict[str, Any]:
    return {name: getattr(remote, name) for name in DISPLAY_FACTS}


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
            state=state,
            **_display_facts(remote),
        )

    def refresh_facts(self, remote: RemotePaymentMethod) -> bool:
        """Take Stripe's current display facts; False (and no change) when none differ."""
        facts = _display_facts(remote)
        if all(getattr(self, name) == value for name, value in facts.items()):
            return False
        for name, value in facts.items():
            setattr(self, name, value)
        self.update_time = utcnow()
        return True

    def move_to(self, target: PaymentMethodState) -> None:
        PAYMENT_METHOD_TRANSITIONS.move(self, target)

    def detach(self) -> None:
        self.move_to(PaymentMethodState.DETACHED)
