"""A customer: one per account, mirrored as a Stripe Customer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.clock import utcnow


@dataclass(slots=True, kw_only=True)
class Customer:
    id: str
    account_id: str
    stripe_customer_id: str | None = None
    email: str | None = None
    name: str | None = None
    default_payment_method_id: str | None = None
    create_time: datetime = field(default_factory=utcnow)
    update_time: datetime = field(default_factory=utcnow)

    def touch(self) -> None:
        self.update_time = utcnow()
