"""Concurrent partial refunds never exceed what was captured (both backends)."""

from __future__ import annotations

import asyncio

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway
from payment_service.app.refunds.rules import CreateRefund
from payment_service.app.refunds.service import Refunds
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Refund
from payment_service.domain.errors import FailedPrecondition
from payment_service.domain.states import RefundState
from tests.integration.refunds.helpers import refunds_at_stripe, stored_payment, succeeded_payment
from tests.support.localstripe import LocalStripe

SUPPORT = Caller("svc-support", frozenset({"refunds:write"}))


async def test_twenty_concurrent_partial_refunds(
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    amounts = [150] * 10 + [70] * 10  # 2200 asked for, 1000 captured

    async def one(index: int) -> Refund | FailedPrecondition:
        command = CreateRefund(request_id=f"c-{index}", payment_id=paid.id, amount=amounts[index])
        try:
            return await refunds.create(SUPPORT, command)
        except FailedPrecondition as error:
            return error

    results = await asyncio.gather(*(one(i) for i in range(len(amounts))))
    made = [r for r in results if isinstance(r, Refund)]
    refused = [r for r in results if isinstance(r, FailedPrecondition)]
    assert {e.reason for e in refused} == {"REFUND_EXCEEDS_REFUNDABLE"}
    assert all(r.state is RefundState.SUCCEEDED for r in made)
    total = sum(r.amount for r in made)
    assert total <= 1000
    # Whatever order they ran in, a refused one never fit in what was left.
    assert all(int(e.metadata["refundable"]) < int(e.metadata["amount"]) for e in refused)
    assert 1000 - total < 70  # the ones that fit all got through: not even a small one fits now

    at_stripe = await refunds_at_stripe(localstripe, paid.stripe_id)
    assert sorted(r["amount"] for r in at_stripe) == sorted(r.amount for r in made)
    assert (await stored_payment(uow_factory, paid.id)).amount_refunded == total
