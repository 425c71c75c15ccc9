"""Stripe unreachable: UNAVAILABLE, the row stays PENDING and reserves its amount; a retry
with the same request_id or the reconciler finishes it with exactly one Stripe refund."""

from __future__ import annotations

import asyncio

import pytest

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway
from payment_service.app.ports.processor import NewRefund, idempotency_key
from payment_service.app.refunds.rules import CreateRefund, RefundRules
from payment_service.app.refunds.service import Refunds
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Refund
from payment_service.domain.errors import FailedPrecondition, Unavailable
from payment_service.domain.ids import new_id
from payment_service.domain.states import RefundState
from tests.integration.refunds.helpers import (
    refunds_at_stripe,
    stored_payment,
    stored_refund,
    succeeded_payment,
)
from tests.support.localstripe import LocalStripe
from tests.support.outage_proxy import OutageProxy

SUPPORT = Caller("svc-support", frozenset({"refunds:write"}))


@pytest.fixture
def proxied(
    uow_factory: SqlUnitOfWorkFactory, proxied_gateway: StripeGateway, cache: MemoryCache
) -> Refunds:
    return Refunds(uow_factory, proxied_gateway, cache, RefundRules(pending_grace_s=0))


async def _pending_refund(
    proxied: Refunds, outage_proxy: OutageProxy, payment_id: str, request_id: str, amount: int
) -> str:
    outage_proxy.down()
    with pytest.raises(Unavailable) as raised:
        await proxied.create(
            SUPPORT, CreateRefund(request_id=request_id, payment_id=payment_id, amount=amount)
        )
    outage_proxy.up()
    return raised.value.metadata["refund_id"]


async def test_retry_with_same_request_id_finishes_it(
    proxied: Refunds,
    outage_proxy: OutageProxy,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    refund_id = await _pending_refund(proxied, outage_proxy, paid.id, "out-1", 700)
    pending = await stored_refund(uow_factory, refund_id)
    assert (pending.state, pending.stripe_refund_id) == (RefundState.PENDING, None)
    assert await refunds_at_stripe(localstripe, paid.stripe_id) == []

    # The pending refund keeps its amount reserved.
    with pytest.raises(FailedPrecondition) as raised:
        await proxied.create(
            SUPPORT, CreateRefund(request_id="out-2", payment_id=paid.id, amount=301)
        )
    assert raised.value.metadata["refundable"] == "300"

    done = await proxied.create(
        SUPPORT, CreateRefund(request_id="out-1", payment_id=paid.id, amount=700)
    )
    assert (done.id, done.state) == (refund_id, RefundState.SUCCEEDED)
    [at_stripe] = await refunds_at_stripe(localstripe, paid.stripe_id)
    assert (at_stripe["id"], at_stripe["amount"]) == (done.stripe_refund_id, 700)
    assert (await stored_payment(uow_factory, paid.id)).amount_refunded == 700


async def test_reconciler_and_retries_at_once_make_one_stripe_refund(
    proxied: Refunds,
    outage_proxy: OutageProxy,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    refund_id = await _pending_refund(proxied, outage_proxy, paid.id, "race", 400)
    command = CreateRefund(request_id="race", payment_id=paid.id, amount=400)

    results = await asyncio.gather(
        proxied.create(SUPPORT, command),
        proxied.create(SUPPORT, command),
        proxied.finish_pending(refund_id),
        proxied.repair_pending(),
    )
    assert [r.id for r in results[:3] if isinstance(r, Refund)] == [refund_id] * 3
    assert len(await refunds_at_stripe(localstripe, paid.stripe_id)) == 1
    assert (await stored_refund(uow_factory, refund_id)).state is RefundState.SUCCEEDED


async def test_reconciler_pass_finishes_pending_and_stops_while_stripe_is_away(
    proxied: Refunds,
    outage_proxy: OutageProxy,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    first = await _pending_refund(proxied, outage_proxy, paid.id, "p-1", 100)
    second = await _pending_refund(proxied, outage_proxy, paid.id, "p-2", 200)

    outage_proxy.down()
    away = await proxied.repair_pending()
    assert (away.task, away.repaired, away.unresolved, away.errors) == (
        "finish_pending_refunds",
        0,
        2,
        1,
    )
    assert away.oldest_unresolved_age_s > 0
    outage_proxy.up()

    report = await proxied.repair_pending()
    assert (report.repaired, report.unresolved, report.errors) == (2, 0, 0)
    states = [(await stored_refund(uow_factory, rid)).state for rid in (first, second)]
    assert states == [RefundState.SUCCEEDED, RefundState.SUCCEEDED]
    assert sorted(r["amount"] for r in await refunds_at_stripe(localstripe, paid.stripe_id)) == [
        100,
        200,
    ]
    assert (await proxied.repair_pending()).repaired == 0


async def test_grace_period_leaves_young_pending_refunds_alone(
    uow_factory: SqlUnitOfWorkFactory,
    proxied: Refunds,
    outage_proxy: OutageProxy,
    gateway: StripeGateway,
    localstripe: LocalStripe,
    cache: MemoryCache,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    await _pending_refund(proxied, outage_proxy, paid.id, "young", 100)
    patient = Refunds(uow_factory, gateway, cache, RefundRules(pending_grace_s=3600))
    assert (await patient.repair_pending()).unresolved == 0
    assert await refunds_at_stripe(localstripe, paid.stripe_id) == []


async def test_crash_after_stripe_is_adopted_not_repeated(
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    """The first attempt reached Stripe but its answer was never stored."""
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    row = Refund(
        id=new_id("rfd"),
        payment_id=paid.id,
        account_id=paid.account_id,
        caller=SUPPORT.sub,
        request_id="crashed",
        request_hash="0" * 64,
        amount=250,
        currency="usd",
    )
    async with uow_factory() as uow:
        await uow.refunds.add(row)
        await uow.commit()
    made = await gateway.create_refund(
        NewRefund(refund_id=row.id, payment_intent=paid.stripe_id, amount=250),
        idempotency_key=idempotency_key(row.id, "create"),
    )

    finished = await refunds.finish_pending(row.id)
    assert (finished.state, finished.stripe_refund_id) == (RefundState.SUCCEEDED, made.stripe_id)
    assert len(await refunds_at_stripe(localstripe, paid.stripe_id)) == 1
    assert (await stored_payment(uow_factory, paid.id)).amount_refunded == 250


async def test_stripe_refusal_fails_the_refund_and_frees_its_amount(
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    async with uow_factory() as uow:  # our row points at a PaymentIntent Stripe does not know
        payment = await uow.payments.get_for_update(paid.id)
        assert payment is not None
        payment.stripe_payment_intent_id = "pi_unknown_to_stripe"
        await uow.payments.update(payment)
        await uow.commit()
    command = CreateRefund(request_id="refused", payment_id=paid.id, amount=1000)
    for _ in range(2):  # the replay gives the same answer
        with pytest.raises(FailedPrecondition) as raised:
            await refunds.create(SUPPORT, command)
        assert raised.value.reason == "REFUND_REJECTED"
    refund = await stored_refund(uow_factory, raised.value.metadata["refund_id"])
    assert (refund.state, refund.failure_reason) == (RefundState.FAILED, "not_found")
    async with uow_factory(read_only=True) as uow:
        assert await uow.refunds.sum_refundable_reserved(paid.id) == 0
