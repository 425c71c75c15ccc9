"""What may still be refunded, and what a payment's refunded total is.

The payment keeps Stripe's refunded total as last observed
(``stripe_amount_refunded``; PaymentIntent reads raise ``amount_refunded``, which is
folded into it) apart from the sum of our own refund rows, and ``amount_refunded``
is the larger of the two. Our rows never lower Stripe's observed total; only a
refund known at Stripe that fails or is canceled takes its share out of it, which
gives its amount back.

Refundable = received - max(succeeded rows, Stripe's total) - rows in flight.
"""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.domain.entities import Payment, Refund
from payment_service.domain.states import PaymentState, RefundState

_GONE = frozenset({RefundState.FAILED, RefundState.CANCELED})


@dataclass(frozen=True, slots=True)
class RefundTotals:
    """The sums of a payment's refund rows."""

    succeeded: int
    in_flight: int  # PENDING and REQUIRES_ACTION


def observed_refunded(payment: Payment) -> int:
    """Stripe's refunded total as last observed (PaymentIntent reads only ever raise
    ``amount_refunded``; whatever they raised it to is Stripe's word)."""
    return max(payment.stripe_amount_refunded, payment.amount_refunded)


def refundable(payment: Payment, totals: RefundTotals) -> int:
    if payment.state is not PaymentState.SUCCEEDED:
        return 0
    refunded = max(totals.succeeded, observed_refunded(payment))
    return max(payment.amount_received - refunded - totals.in_flight, 0)


def unexplained(payment: Payment, totals: RefundTotals) -> int:
    """How much of Stripe's refunded total none of our rows explains (refunds to import)."""
    return max(observed_refunded(payment) - totals.succeeded - totals.in_flight, 0)


def gives_back(refund: Refund, before: RefundState) -> bool:
    """``refund`` just left Stripe's refunded total: known at Stripe, now failed or canceled."""
    return refund.state in _GONE and before not in _GONE and refund.stripe_refund_id is not None


def failed_share(refund: Refund, before: RefundState, unexplained_now: int) -> int:
    """How much of Stripe's observed total went away with ``refund``, which just moved
    from ``before`` to FAILED or CANCELED.

    Succeeded before: Stripe's total counted it, all of it. Pending before: Stripe may
    or may not have counted it yet; at most the part of Stripe's total our remaining
    rows do not explain (``unexplained_now``) can be it.
    """
    if not gives_back(refund, before):
        return 0
    if before is RefundState.SUCCEEDED:
        return refund.amount
    return min(refund.amount, unexplained_now)


def settle_refunded(payment: Payment, succeeded: int, *, failed: int = 0) -> bool:
    """Recompute the payment's refunded amounts from our succeeded rows and Stripe's
    observed total less ``failed``; True when they changed."""
    observed = max(observed_refunded(payment) - failed, 0)
    total = min(max(succeeded, observed), payment.amount_received)
    if (total, observed) == (payment.amount_refunded, payment.stripe_amount_refunded):
        return False
    payment.amount_refunded = total
    payment.stripe_amount_refunded = observed
    return True
