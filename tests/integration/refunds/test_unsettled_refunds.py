"""The reconciler's refund task: REQUIRES_ACTION refunds are refreshed too, refunds known at
Stripe are read again on a backoff, and a PaymentIntent's refunds are listed past page one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway
from payment_service.app.refunds.service import Refunds
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import Refund
from payment_service.domain.ids import new_id
from payment_service.domain.states import RefundState
from tests.integration.refunds.helpers import StoredPayment, stored_refund, succeeded_payment
from tests.support.audit import audited
from tests.support.localstripe import LocalStripe


async def _linked_row(
    uow_factory: SqlUnitOfWorkFactory,
    localstripe: LocalStripe,
    paid: StoredPayment,
    state: RefundState,
    **fields: Any,
) -> Refund:
    """A refund row linked to a Stripe refund (localstripe's are always succeeded)."""
    made = await localstripe.request(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_id, "amount": "100"}
    )
    row = Refund(
        id=new_id("rfd"),
        payment_id=paid.id,
        account_id=paid.account_id,
        caller="svc-support",
        request_id=new_id("req"),
        request_hash="0" * 64,
        amount=100,
        currency=paid.currency,
        state=state,
        stripe_refund_id=made["id"],
        create_time=utcnow() - timedelta(minutes=10),
        **fields,
    )
    async with uow_factory() as uow:
        await uow.refunds.add(row)
        await uow.commit()
    return row


async def test_requires_action_refund_is_refreshed(
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    row = await _linked_row(uow_factory, localstripe, paid, RefundState.REQUIRES_ACTION)
    report = await refunds.repair_pending()
    assert (report.repaired, report.unresolved) == (1, 0)
    assert (await stored_refund(uow_factory, row.id)).state is RefundState.SUCCEEDED
    [answer] = await audited(uow_factory, ("refund", row.id), action="refunds.stripe_answer")
    assert answer.outcome == "succeeded"


async def test_refund_known_at_stripe_is_read_again_only_on_its_backoff(
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    row = await _linked_row(uow_factory, localstripe, paid, RefundState.PENDING, synced_at=utcnow())
    report = await refunds.repair_pending()  # read a moment ago: not again yet
    assert (report.repaired, report.unresolved) == (0, 1)
    assert (await stored_refund(uow_factory, row.id)).state is RefundState.PENDING

    async with uow_factory() as uow:
        stored = await uow.refunds.get_for_update(row.id)
        assert stored is not None
        stored.synced_at = utcnow() - timedelta(minutes=5)
        await uow.refunds.update(stored)
        await uow.commit()
    report = await refunds.repair_pending()
    assert (report.repaired, report.unresolved) == (1, 0)
    refreshed = await stored_refund(uow_factory, row.id)
    assert refreshed.state is RefundState.SUCCEEDED
    assert refreshed.synced_at is not None


async def test_list_refunds_reads_every_page(
    uow_factory: SqlUnitOfWorkFactory, gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    for _ in range(101):
        await localstripe.request(
            "POST", "/v1/refunds", {"payment_intent": paid.stripe_id, "amount": "1"}
        )
    listed = await gateway.list_refunds(paid.stripe_id)
    assert len(listed) == 101
    assert len({r.stripe_id for r in listed}) == 101
