"""An invoice (Stripe makes them for subscriptions); lines are stored with it.

An invoice's payment is a Payment of ours (``payment_id``): its PaymentIntent is
listed and refunded like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.billing import RemoteInvoice, RemoteInvoiceLine
from payment_service.domain.clock import maybe_from_unix, utcnow
from payment_service.domain.entities.mirror import StripeMirror
from payment_service.domain.states import InvoiceState


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
    proration: bool = False

    @classmethod
    def from_remote(cls, line: RemoteInvoiceLine) -> InvoiceLine:
        return cls(
            stripe_line_id=line.stripe_id,
            description=line.description,
            amount=line.amount,
            currency=line.currency,
            quantity=line.quantity if line.quantity is not None else 1,
            stripe_price_id=line.price,
            period_start=maybe_from_unix(line.period_start),
            period_end=maybe_from_unix(line.period_end),
            proration=line.proration,
        )


@dataclass(slots=True, kw_only=True)
class Invoice(StripeMirror[InvoiceState]):
    account_id: str
    customer_id: str
    stripe_invoice_id: str
    currency: str
    subscription_id: str | None = None
    stripe_subscription_id: str | None = None
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
    billing_reason: str | None = None
    attempt_count: int = 0
    lines: list[InvoiceLine] = field(default_factory=list)
    stripe_payment_intent_id: str | None = None
    payment_id: str | None = None  # our Payment for the PaymentIntent

    def apply_remote(self, remote: RemoteInvoice, observed_at: datetime) -> bool:
        """Copy Stripe's view; False (amounts untouched) when stale or refused."""
        self.stripe_payment_intent_id = remote.payment_intent_id or self.stripe_payment_intent_id
        if not self.apply_remote_state(remote.state, observed_at):
            return False
        self.number = remote.number or self.number
        self.currency = remote.currency
        self.amount_due = remote.amount_due
        self.amount_paid = max(self.amount_paid, remote.amount_paid)
        self.amount_remaining = remote.amount_remaining
        self.subtotal = remote.subtotal
        self.total = remote.total
        self.hosted_invoice_url = remote.hosted_invoice_url or self.hosted_invoice_url
        self.invoice_pdf_url = remote.invoice_pdf or self.invoice_pdf_url
        self.period_start = maybe_from_unix(remote.period_start)
        self.period_end = maybe_from_unix(remote.period_end)
        self.due_time = maybe_from_unix(remote.due_date)
        self.paid_time = maybe_from_unix(remote.paid_at) or self.paid_time
        self.billing_reason = remote.billing_reason
        self.attempt_count = max(self.attempt_count, remote.attempt_count)
        if remote.lines:
            self.lines = [InvoiceLine.from_remote(line) for line in remote.lines]
        self.synced_at = utcnow()
        return True
