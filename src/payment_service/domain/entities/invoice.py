"""An invoice (Stripe creates them for subscriptions); lines are stored with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.clock import utcnow
from payment_service.domain.states import InvoiceState
from payment_service.domain.transitions import INVOICE_TRANSITIONS


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceLine:
    stripe_line_id: str
    description: str | None
    amount: int
    currency: str
    quantity: int = 1
    stripe_price_id: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None


@dataclass(slots=True, kw_only=True)
class Invoice:
    id: str
    account_id: str
    customer_id: str
    stripe_invoice_id: str
    currency: str
    subscription_id: str | None = None
    number: str | None = None
    state: InvoiceState = InvoiceState.DRAFT
    amount_due: int = 0
    amount_paid: int = 0
    amount_remaining: int = 0
    subtotal: int = 0
    total: int = 0
    hosted_invoice_url: str | None = None
    invoice_pdf_url: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    due_time: datetime | None = None
    paid_time: datetime | None = None
    lines: list[InvoiceLine] = field(default_factory=list)
    remote_updated_at: datetime | None = None
    create_time: datetime = field(default_factory=utcnow)
    update_time: datetime = field(default_factory=utcnow)

    def move_to(self, target: InvoiceState) -> None:
        """Move by our own decision; raise InvalidTransition when the table forbids it."""
        INVOICE_TRANSITIONS.move(self, target)

    def apply_remote_state(self, target: InvoiceState, observed_at: datetime) -> bool:
        """Apply a state seen at Stripe; False (and no change) when stale or not allowed."""
        return INVOICE_TRANSITIONS.observe(self, target, observed_at)
