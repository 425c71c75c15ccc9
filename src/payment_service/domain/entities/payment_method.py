"""A saved payment method: only Stripe's token and display facts, never a card number or CVC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.clock import utcnow
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

    def move_to(self, target: PaymentMethodState) -> None:
        PAYMENT_METHOD_TRANSITIONS.check("payment_method", self.id, self.state, target)
        if target is not self.state:
            self.state = target
            self.update_time = utcnow()

    def detach(self) -> None:
        self.move_to(PaymentMethodState.DETACHED)
