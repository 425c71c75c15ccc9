"""A payment's refund sums read from storage, and the refunded totals kept in step.

The rules themselves are pure (``domain.refund_rules``); this module adds them up
from the rows inside a unit of work that holds the payment's row lock.
"""

from __future__ import annotations

from payment_service.app.ports.storage import UnitOfWork
from payment_service.domain import refund_rules
from payment_service.domain.entities import Payment, Refund
from payment_service.domain.pagination import MAX_PAGE_SIZE, PageRequest
from payment_service.domain.refund_rules import RefundTotals
from payment_service.domain.states import RefundState


async def succeeded_total(uow: UnitOfWork, payment_id: str) -> int:
    """The sum of the payment's SUCCEEDED refunds (a payment has few; pages of 200)."""
    total, token = 0, ""
    while True:
        page = await uow.refunds.list_for_payment(
            payment_id, page=PageRequest(MAX_PAGE_SIZE, token)
        )
        total += sum(r.amount for r in page.items if r.state is RefundState.SUCCEEDED)
        if page.is_last:
            return total
        token = page.next_page_token


async def refund_totals(uow: UnitOfWork, payment_id: str) -> RefundTotals:
    succeeded = await succeeded_total(uow, payment_id)
    reserved = await uow.refunds.sum_refundable_reserved(payment_id)
    return RefundTotals(succeeded=succeeded, in_flight=max(reserved - succeeded, 0))


async def refundable_amount(uow: UnitOfWork, payment: Payment) -> int:
    return refund_rules.refundable(payment, await refund_totals(uow, payment.id))


async def unexplained_refunded(uow: UnitOfWork, payment: Payment) -> int:
    return refund_rules.unexplained(payment, await refund_totals(uow, payment.id))


async def sync_refunded_total(uow: UnitOfWork, payment: Payment, *, failed: int = 0) -> bool:
    """Recompute the (locked) payment's refunded amounts and store them; True if changed."""
    succeeded = await succeeded_total(uow, payment.id)
    if not refund_rules.settle_refunded(payment, succeeded, failed=failed):
        return False
    await uow.payments.update(payment)
    return True


async def record_refund_change(
    uow: UnitOfWork, payment: Payment, refund: Refund, before: RefundState
) -> None:
    """After ``refund`` (stored) moved from ``before``: bring the payment's totals along."""
    failed = 0
    if refund_rules.gives_back(refund, before):  # only then is the unexplained total needed
        unexplained = await unexplained_refunded(uow, payment)
        failed = refund_rules.failed_share(refund, before, unexplained)
    await sync_refunded_total(uow, payment, failed=failed)
