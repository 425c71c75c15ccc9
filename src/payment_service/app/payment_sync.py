"""Bringing a stored payment in line with what Stripe says about its PaymentIntent.

Used by the payment use cases (answers to our own calls), the webhook handlers
(events) and the reconciler (fresh reads). The state only moves through the
domain's transition table and never back to an older observation; amounts
that only grow (received, refunded) never shrink.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from payment_service.domain.clock import utcnow
from payment_service.domain.entities import Payment
from payment_service.domain.processor import RemotePaymentIntent

# Stripe's event times have one-second resolution; an object we read from the
# API at time T is dated a second earlier so that an event of the same second
# is still judged by the transition table rather than dropped as older.
_API_READ_SLACK = timedelta(seconds=1)


def api_read_time() -> datetime:
    """The observation time to record for a PaymentIntent we just read or changed."""
    return (utcnow() - _API_READ_SLACK).replace(microsecond=0)


def apply_payment_intent(
    payment: Payment, intent: RemotePaymentIntent, observed_at: datetime
) -> bool:
    """Copy Stripe's view onto ``payment``; False when the observation was stale or refused.

    The PaymentIntent id is always recorded, even from a stale observation, so
    a payment never stays unlinked from its PaymentIntent.
    """
    linked = False
    if payment.stripe_payment_intent_id is None:
        payment.stripe_payment_intent_id = intent.stripe_id
        linked = True
    if not payment.apply_remote_state(intent.state, observed_at):
        return linked
    payment.amount_capturable = intent.amount_capturable
    payment.amount_received = max(payment.amount_received, intent.amount_received)
    if intent.amount_refunded is not None:
        payment.amount_refunded = max(payment.amount_refunded, intent.amount_refunded)
    payment.client_secret = intent.client_secret or payment.client_secret
    payment.next_action_type = intent.next_action_type
    payment.next_action_url = intent.next_action_url
    payment.last_error_code = intent.last_error_code
    payment.last_error_decline_code = intent.last_error_decline_code
    payment.last_error_message = intent.last_error_message
    payment.receipt_url = intent.receipt_url or payment.receipt_url
    payment.payment_method = intent.payment_method or payment.payment_method
    payment.stripe_customer_id = intent.customer or payment.stripe_customer_id
    payment.synced_at = utcnow()
    return True


def integrity_mismatch(payment: Payment, intent: RemotePaymentIntent) -> str | None:
    """Describe how Stripe's object contradicts ours (amount, currency, customer), if it does."""
    if intent.amount != payment.amount:
        return f"amount {intent.amount} != stored {payment.amount}"
    if intent.currency.lower() != payment.currency:
        return f"currency {intent.currency} != stored {payment.currency}"
    if (
        payment.stripe_customer_id
        and intent.customer
        and intent.customer != payment.stripe_customer_id
    ):
        return f"customer {intent.customer} != stored {payment.stripe_customer_id}"
    if payment.stripe_payment_intent_id and intent.stripe_id != payment.stripe_payment_intent_id:
        return f"payment intent {intent.stripe_id} != stored {payment.stripe_payment_intent_id}"
    return None
