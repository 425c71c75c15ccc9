"""Lifecycle states and small enums; the values are the lowercase strings stored in the DB."""

from __future__ import annotations

from enum import StrEnum


class PaymentState(StrEnum):
    PENDING = "pending"  # local row exists, Stripe does not know the PaymentIntent yet
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"
    FAILED = "failed"  # Stripe refused to create it; nothing was charged


class PaymentRefundState(StrEnum):
    NONE = "none"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class CaptureMethod(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class RefundState(StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class RefundReason(StrEnum):
    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    REQUESTED_BY_CUSTOMER = "requested_by_customer"


class PaymentMethodState(StrEnum):
    ATTACHED = "attached"
    DETACHED = "detached"


class SubscriptionState(StrEnum):
    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    CANCELED = "canceled"
    PAUSED = "paused"


class PriceInterval(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class InvoiceState(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


class WebhookEventState(StrEnum):
    RECEIVED = "received"  # stored, waiting to be applied (new, retry due, or replayed)
    PROCESSED = "processed"
    FAILED = "failed"  # applying raised; retried with backoff
    DEAD = "dead"  # retries exhausted; only an operator replay revives it
    QUARANTINED = "quarantined"  # payload not trusted or not understood; kept for an operator
    IGNORED = "ignored"  # a type we do not handle, or judged irrelevant by an operator


class PaymentMethodUsage(StrEnum):
    """How a saved payment method will be used (Stripe's ``usage``, ``setup_future_usage``)."""

    ON_SESSION = "on_session"
    OFF_SESSION = "off_session"


class SetupIntentState(StrEnum):
    PENDING = "pending"  # local row exists, Stripe does not know the SetupIntent yet
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"
    FAILED = "failed"  # Stripe refused to create it


class DisputeState(StrEnum):
    """Stripe's dispute statuses; the warning_* ones are inquiries."""

    WARNING_NEEDS_RESPONSE = "warning_needs_response"
    WARNING_UNDER_REVIEW = "warning_under_review"
    WARNING_CLOSED = "warning_closed"
    NEEDS_RESPONSE = "needs_response"
    UNDER_REVIEW = "under_review"
    WON = "won"
    LOST = "lost"
