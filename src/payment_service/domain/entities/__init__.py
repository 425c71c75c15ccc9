"""Domain entities: plain dataclasses whose state moves through the transition tables."""

from payment_service.domain.entities.audit import AuditEntry
from payment_service.domain.entities.customer import Customer
from payment_service.domain.entities.dispute import Dispute
from payment_service.domain.entities.invoice import Invoice, InvoiceLine
from payment_service.domain.entities.payment import Payment
from payment_service.domain.entities.payment_method import PaymentMethod
from payment_service.domain.entities.price import Price
from payment_service.domain.entities.refund import RESERVING_REFUND_STATES, Refund
from payment_service.domain.entities.request_record import RequestRecord
from payment_service.domain.entities.setup_intent import SetupIntent
from payment_service.domain.entities.subscription import (
    PaymentAction,
    Subscription,
    SubscriptionItem,
)
from payment_service.domain.entities.webhook_event import WebhookEvent

__all__ = [
    "RESERVING_REFUND_STATES",
    "AuditEntry",
    "Customer",
    "Dispute",
    "Invoice",
    "InvoiceLine",
    "Payment",
    "PaymentAction",
    "PaymentMethod",
    "Price",
    "Refund",
    "RequestRecord",
    "SetupIntent",
    "Subscription",
    "SubscriptionItem",
    "WebhookEvent",
]
