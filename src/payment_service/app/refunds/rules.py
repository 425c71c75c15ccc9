"""The refund capability's settings, requests and the answers its rules give."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from payment_service.app.common.replay import MutationRequest, request_hash
from payment_service.app.common.validation import Violations
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Payment, Refund
from payment_service.domain.errors import FailedPrecondition, NotFound, RequestIdReused
from payment_service.domain.ids import new_id
from payment_service.domain.pagination import PageRequest
from payment_service.domain.states import PaymentState, RefundReason, RefundState

# ``caller`` of refunds made outside the service; their request_id is the Stripe id.
OUTSIDE_CALLER = "stripe"
IN_FLIGHT = (RefundState.PENDING, RefundState.REQUIRES_ACTION)


@dataclass(frozen=True, slots=True)
class RefundRules:
    # The reconciler leaves PENDING refunds younger than this to the request sending them;
    # keep it above the longest Stripe call (timeout x attempts).
    pending_grace_s: float = 60.0
    repair_batch: int = 100
    # Refunds known at Stripe but not settled there (pending, requires_action) are read
    # again on a backoff: a quarter of their age, between these two bounds.
    refresh_min_s: float = 60.0
    refresh_max_s: float = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class CreateRefund:
    request_id: str
    payment_id: str
    amount: int | None = None  # None: everything that is still refundable
    reason: RefundReason | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        check = Violations()
        check.request_id(self.request_id)
        check.object_id(self.payment_id, "pay", "payment_id")
        if self.amount is not None:
            check.amount(self.amount)
        check.metadata(self.metadata)
        check.raise_if_any()

    def fields(self) -> dict[str, object]:
        """What the request_id fingerprint covers."""
        return {
            "payment_id": self.payment_id,
            "amount": self.amount,
            "reason": self.reason.value if self.reason else None,
            "metadata": dict(self.metadata),
        }


@dataclass(frozen=True, slots=True)
class ListRefunds:
    page: PageRequest
    payment_id: str = ""
    account_id: str = ""


def new_refund(
    payment: Payment,
    request: MutationRequest,
    amount: int,
    reason: RefundReason | None,
    metadata: Mapping[str, str],
) -> Refund:
    """A PENDING refund of ``amount`` of ``payment``, made by ``request``."""
    return Refund(
        id=new_id("rfd"),
        payment_id=payment.id,
        account_id=payment.account_id,
        **request.origin(),
        amount=amount,
        currency=payment.currency,
        reason=reason,
        metadata=dict(metadata),
    )


def outside_request(stripe_refund_id: str) -> MutationRequest:
    """What a refund made outside the service (the Stripe dashboard) is kept as made by."""
    fields = {"stripe_refund_id": stripe_refund_id}
    return MutationRequest(
        OUTSIDE_CALLER, "StripeRefund", stripe_refund_id, request_hash("StripeRefund", fields)
    )


def check_replay(caller: Caller, refund: Refund, command: CreateRefund, body_hash: str) -> None:
    if refund.request_hash != body_hash:
        raise RequestIdReused(command.request_id)
    if not caller.may_access(refund.account_id):
        raise NotFound("payment", command.payment_id)


def require_refundable_state(payment: Payment) -> None:
    if payment.state is not PaymentState.SUCCEEDED or payment.stripe_payment_intent_id is None:
        raise FailedPrecondition(
            f"payment {payment.id} is {payment.state.value}; only succeeded payments are refunded",
            reason="PAYMENT_NOT_REFUNDABLE",
            metadata={"payment_id": payment.id, "state": payment.state.value},
        )
    if payment.refund_blocked_by_dispute:
        # Stripe refuses it too (charge_disputed); refused here before anything is sent.
        raise FailedPrecondition(
            f"payment {payment.id} is disputed; answer the dispute instead of refunding",
            reason="PAYMENT_DISPUTED",
            metadata={"payment_id": payment.id, "dispute_id": payment.dispute_id or ""},
        )


def exceeds(payment_id: str, amount: int, refundable: int) -> FailedPrecondition:
    return FailedPrecondition(
        f"refund of {amount} exceeds the {refundable} still refundable on payment {payment_id}",
        reason="REFUND_EXCEEDS_REFUNDABLE",
        metadata={"payment_id": payment_id, "refundable": str(refundable), "amount": str(amount)},
    )


def answer(refund: Refund) -> Refund:
    """CreateRefund's answer: the refund, or the refusal Stripe gave when it was sent."""
    if refund.state is RefundState.FAILED and refund.stripe_refund_id is None:
        raise FailedPrecondition(
            "Stripe refused the refund",
            reason="REFUND_REJECTED",
            metadata={"refund_id": refund.id, "code": refund.failure_reason or ""},
        )
    return refund
