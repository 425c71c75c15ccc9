"""A recurring price customers can subscribe to; mirrors a Stripe Price."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.clock import utcnow
from payment_service.domain.states import PriceInterval


@dataclass(slots=True, kw_only=True)
class Price:
    id: str
    stripe_price_id: str
    product_name: str
    unit_amount: int
    currency: str
    interval: PriceInterval
    interval_count: int = 1
    active: bool = True
    stripe_product_id: str | None = None
    remote_updated_at: datetime | None = None  # time of the newest Stripe observation
    create_time: datetime = field(default_factory=utcnow)
    update_time: datetime = field(default_factory=utcnow)
