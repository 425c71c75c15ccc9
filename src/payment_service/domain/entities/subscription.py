"""A subscription of a customer to a recurring price; mirrors a Stripe Subscription."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.clock import utcnow
from payment_service.domain.states import SubscriptionState
from payment_service.domain.transitions import SUBSCRIPTION_TRANSITIONS


@dataclass(slots=True, kw_only=True)
class Subscription:
    id: str
    account_id: str
    customer_id: str
    caller: str
    request_id: str
    request_hash: str
    price_id: str
    stripe_price_id: str
    quantity: int = 1
    state: SubscriptionState = SubscriptionState.INCOMPLETE
    stripe_subscription_id: str | None = None
    cancel_at_period_end: bool = False
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    trial_start: datetime | None = None
    trial_end: datetime | None = None
    canceled_at: datetime | None = None
    latest_invoice_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    remote_updated_at: datetime | None = None
    create_time: datetime = field(default_factory=utcnow)
    update_time: datetime = field(default_factory=utcnow)
    version: int = 0

    @property
    def is_final(self) -> bool:
        return SUBSCRIPTION_TRANSITIONS.is_terminal(self.state)

    def move_to(self, target: SubscriptionState) -> None:
        """Move by our own decision; raise InvalidTransition when the table forbids it."""
        SUBSCRIPTION_TRANSITIONS.move(self, target)

    def apply_remote_state(self, target: SubscriptionState, observed_at: datetime) -> bool:
        """Apply a state seen at Stripe; False (and no change) when stale or not allowed."""
        return SUBSCRIPTION_TRANSITIONS.observe(self, target, observed_at)
