"""CreateRefund, GetRefund and ListRefunds over a real database and localstripe."""

from __future__ import annotations

import pytest

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway
from payment_service.app.common.entity_codec import encode_entity
from payment_service.app.payments.rules import cache_key
from payment_service.app.refunds.rules import CreateRefund, ListRefunds
from payment_service.app.refunds.service import Refunds
from payment_service.domain.caller import Caller
from payment_service.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    RequestIdReused,
)
from payment_service.domain.pagination import PageRequest
from payment_service.domain.states import (
    PaymentRefundState,
    PaymentState,
    RefundReason,
    RefundState,
)
from tests.integration.refunds.helpers import (
    refunds_at_stripe,
    stored_payment,
    succeeded_payment,
)
from tests.support.localstripe import LocalStripe

SUPPORT = Caller("svc-support", frozenset({"refunds:write", "refunds:read"}))


async def test_partial_then_full_remaining_refund(
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
    cache: MemoryCache,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    await cache.put(
        cache_key(paid.id), 1, encode_entity(await stored_payment(uow_factory, paid.id)), 60
    )

    first = await refunds.create(
        SUPPORT,
        CreateRefund(
            request_id="r-1",
            payment_id=paid.id,
            amount=300,
            reason=RefundReason.REQUESTED_BY_CUSTOMER,
            metadata={"ticket": "T-1"},
        ),
    )
    assert (first.state, first.amount, first.currency) == (RefundState.SUCCEEDED, 300, "usd")
    assert first.reason is RefundReason.REQUESTED_BY_CUSTOMER
    assert first.stripe_refund_id is not None
    assert first.stripe_refund_id.startswith("re_")
    assert await cache.get(cache_key(paid.id)) is None  # the payment's cache entry is gone
    payment = await stored_payment(uow_factory, paid.id)
    assert (payment.amount_refunded, payment.refund_state) == (
        300,
        PaymentRefundState.PARTIALLY_REFUNDED,
    )

    rest = await refunds.create(SUPPORT, CreateRefund(request_id="r-2", payment_id=paid.id))
    assert (rest.state, rest.amount) == (RefundState.SUCCEEDED, 700)
    payment = await stored_payment(uow_factory, paid.id)
    assert (payment.amount_refunded, payment.refund_state) == (1000, PaymentRefundState.REFUNDED)

    at_stripe = await refunds_at_stripe(localstripe, paid.stripe_id)
    assert sorted(r["amount"] for r in at_stripe) == [300, 700]
    by_id = {r["id"]: r for r in at_stripe}
    assert by_id[first.stripe_refund_id]["metadata"] == {"ticket": "T-1", "refund_id": first.id}

    assert await refunds.get(SUPPORT, first.id) == first
    page = await refunds.list(SUPPORT, ListRefunds(PageRequest(), payment_id=paid.id))
    assert [r.id for r in page.items] == [rest.id, first.id]  # newest first
    by_account = await refunds.list(
        SUPPORT, ListRefunds(PageRequest(1), account_id=paid.account_id)
    )
    assert [r.id for r in by_account.items] == [rest.id]
    assert by_account.next_page_token


async def test_refund_above_refundable_fails_before_stripe(
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    await refunds.create(SUPPORT, CreateRefund(request_id="a", payment_id=paid.id, amount=600))

    with pytest.raises(FailedPrecondition) as raised:
        await refunds.create(SUPPORT, CreateRefund(request_id="b", payment_id=paid.id, amount=401))
    assert raised.value.reason == "REFUND_EXCEEDS_REFUNDABLE"
    assert raised.value.metadata["refundable"] == "400"

    await refunds.create(SUPPORT, CreateRefund(request_id="c", payment_id=paid.id))  # the 400 left
    with pytest.raises(FailedPrecondition) as raised:
        await refunds.create(SUPPORT, CreateRefund(request_id="d", payment_id=paid.id))
    assert (raised.value.reason, raised.value.metadata["refundable"]) == (
        "REFUND_EXCEEDS_REFUNDABLE",
        "0",
    )
    assert sorted(r["amount"] for r in await refunds_at_stripe(localstripe, paid.stripe_id)) == [
        400,
        600,
    ]


async def test_only_succeeded_payments_are_refundable(
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(
        uow_factory, gateway, localstripe, state=PaymentState.REQUIRES_CAPTURE
    )
    with pytest.raises(FailedPrecondition) as raised:
        await refunds.create(SUPPORT, CreateRefund(request_id="x", payment_id=paid.id, amount=1))
    assert raised.value.reason == "PAYMENT_NOT_REFUNDABLE"
    assert await refunds_at_stripe(localstripe, paid.stripe_id) == []


async def test_request_id_replays_and_refuses_another_body(
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    command = CreateRefund(request_id="same", payment_id=paid.id, amount=250)
    first = await refunds.create(SUPPORT, command)
    again = await refunds.create(SUPPORT, command)
    assert again.id == first.id
    assert again.stripe_refund_id == first.stripe_refund_id
    with pytest.raises(RequestIdReused):
        await refunds.create(
            SUPPORT, CreateRefund(request_id="same", payment_id=paid.id, amount=251)
        )
    other_caller = Caller("svc-other", SUPPORT.scopes)
    separate = await refunds.create(other_caller, command)  # request ids are per caller
    assert separate.id != first.id
    assert len(await refunds_at_stripe(localstripe, paid.stripe_id)) == 2


async def test_zero_decimal_currency_is_sent_as_is(
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=500, currency="jpy")
    refund = await refunds.create(SUPPORT, CreateRefund(request_id="jpy", payment_id=paid.id))
    assert (refund.amount, refund.currency) == (500, "jpy")
    [at_stripe] = await refunds_at_stripe(localstripe, paid.stripe_id)
    assert (at_stripe["amount"], at_stripe["currency"]) == (500, "jpy")


async def test_other_accounts_payments_and_refunds_are_not_found(
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, account_id="acct_owner")
    owner = Caller("svc-a", SUPPORT.scopes, account_id="acct_owner")
    stranger = Caller("svc-a", SUPPORT.scopes, account_id="acct_other")
    with pytest.raises(NotFound):
        await refunds.create(stranger, CreateRefund(request_id="s", payment_id=paid.id, amount=1))
    assert await refunds_at_stripe(localstripe, paid.stripe_id) == []

    mine = await refunds.create(owner, CreateRefund(request_id="o", payment_id=paid.id, amount=1))
    with pytest.raises(NotFound):
        await refunds.get(stranger, mine.id)
    with pytest.raises(NotFound):
        await refunds.list(stranger, ListRefunds(PageRequest(), payment_id=paid.id))
    with pytest.raises(NotFound):
        await refunds.list(stranger, ListRefunds(PageRequest(), account_id="acct_owner"))
    with pytest.raises(NotFound):  # same sub, same request_id, other account: no replay either
        await refunds.create(stranger, CreateRefund(request_id="o", payment_id=paid.id, amount=1))


@pytest.mark.parametrize(
    ("command", "fields"),
    [
        (CreateRefund(request_id="", payment_id="pay_1", amount=1), {"request_id"}),
        (CreateRefund(request_id="r", payment_id="rfd_1", amount=1), {"payment_id"}),
        (CreateRefund(request_id="r", payment_id="pay_1", amount=0), {"amount"}),
        (CreateRefund(request_id="r", payment_id="pay_1", amount=-5), {"amount"}),
        (
            CreateRefund(request_id="r", payment_id="pay_1", metadata={"card": "4242424242424242"}),
            {"metadata[card]"},
        ),
    ],
)
async def test_invalid_requests(refunds: Refunds, command: CreateRefund, fields: set[str]) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await refunds.create(SUPPORT, command)
    assert {v.field for v in raised.value.violations} == fields


async def test_list_needs_exactly_one_filter(refunds: Refunds) -> None:
    for query in (
        ListRefunds(PageRequest()),
        ListRefunds(PageRequest(), payment_id="pay_1", account_id="acct_1"),
    ):
        with pytest.raises(InvalidArgument) as raised:
            await refunds.list(SUPPORT, query)
        assert {v.field for v in raised.value.violations} == {"payment_id", "account_id"}
    with pytest.raises(NotFound):
        await refunds.list(SUPPORT, ListRefunds(PageRequest(), payment_id="pay_unknown"))
