"""The Stripe event types each capability handles: the one list of them."""

from __future__ import annotations

PAYMENT_INTENT_EVENT_TYPES = (
    "payment_intent.created",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.amount_capturable_updated",
)
PAYMENT_METHOD_EVENT_TYPES = (
    "payment_method.attached",
    "payment_method.detached",
    "payment_method.updated",
)
CUSTOMER_EVENT_TYPES = ("customer.updated", "customer.deleted")
REFUND_EVENT_TYPES = (
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.refund.updated",
)
CHARGE_REFUNDED_EVENT_TYPE = "charge.refunded"
SUBSCRIPTION_EVENT_TYPES = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.trial_will_end",
    "customer.subscription.paused",
    "customer.subscription.resumed",
)
INVOICE_EVENT_TYPES = (
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.payment_succeeded",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "invoice.payment_action_required",
    "invoice.updated",
)
PRICE_EVENT_TYPES = ("price.created", "price.updated", "price.deleted")
PRODUCT_EVENT_TYPES = ("product.created", "product.updated")
SETUP_INTENT_EVENT_TYPES = (
    "setup_intent.created",
    "setup_intent.requires_action",
    "setup_intent.setup_failed",
    "setup_intent.succeeded",
    "setup_intent.canceled",
)
DISPUTE_EVENT_TYPES = (
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)

# Every type the service must understand; ``payment_intent.created`` tells nothing new.
REQUIRED_EVENT_TYPES: frozenset[str] = frozenset(
    {
        *PAYMENT_INTENT_EVENT_TYPES,
        *PAYMENT_METHOD_EVENT_TYPES,
        *CUSTOMER_EVENT_TYPES,
        *REFUND_EVENT_TYPES,
        CHARGE_REFUNDED_EVENT_TYPE,
        *SUBSCRIPTION_EVENT_TYPES,
        *INVOICE_EVENT_TYPES,
        *PRICE_EVENT_TYPES,
        *PRODUCT_EVENT_TYPES,
        *SETUP_INTENT_EVENT_TYPES,
        *DISPUTE_EVENT_TYPES,
    }
    - {"payment_intent.created", "setup_intent.created"}
)
