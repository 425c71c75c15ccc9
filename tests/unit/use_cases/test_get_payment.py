"""GetPayment's refresh from Stripe (and its quarantine), and ListPayments' pages."""

from __future__ import annotations

import asyncio

import pytest

from payment_service.app.payments.rules import ListPayments
from payment_service.domain.entities import Payment
from payment_service.domain.errors import InvalidArgument, NotFound, Unavailable
from payment_service.domain.pagination import PageRequest
from payment_service.domain.states import CaptureMethod, PaymentState
from tests.unit.use_cases.support import (
    ACCOUNT,
    ORDERS,
    SHOPPER,
    STRANGER,
    Service,
    payment_request,
)


async def _authorized(service: Service) -> Payment:
    request = payment_request(capture_method=CaptureMethod.MANUAL)
    return await service.payments.create(ORDERS, request)


def _captured_at_stripe(service: Service, payment: Payment, **changes: object) -> None:
    """Stripe captured the authorization behind our back (and perhaps changed more)."""
    service.stripe.edit_payment_intent(
        payment.stripe_payment_intent_id or "",
        **{
            "state": PaymentState.SUCCEEDED,
            "amount_capturable": 0,
            "amount_received": payment.amount,
            **changes,
        },
    )


async def test_a_recently_read_payment_is_answered_without_asking_stripe(
    service: Service,
) -> None:
    payment = await _authorized(service)
    _captured_at_stripe(service, payment)

    got = await service.payments.get(SHOPPER, payment.id)

    assert got.state is PaymentState.REQUIRES_CAPTURE
    assert service.stripe.calls["retrieve_payment_intent"] == 0


async def test_a_non_final_payment_not_read_for_a_while_is_refreshed(service: Service) -> None:
    payment = await _authorized(service)
    _captured_at_stripe(service, payment)
    await service.age(payment.id)

    got = await service.payments.get(SHOPPER, payment.id)

    assert (got.state, got.amount_received) == (PaymentState.SUCCEEDED, 1000)
    assert service.stored(payment.id).state is PaymentState.SUCCEEDED
    assert service.stripe.calls["retrieve_payment_intent"] == 1


async def test_a_contradicting_payment_intent_is_quarantined_not_applied(
    service: Service,
) -> None:
    payment = await _authorized(service)
    _captured_at_stripe(service, payment, amount=9999, amount_received=9999)
    await service.age(payment.id, seconds=3600)
    aged = service.stored(payment.id).synced_at

    got = await service.payments.get(ORDERS, payment.id)

    assert (got.state, got.amount, got.amount_received) == (PaymentState.REQUIRES_CAPTURE, 1000, 0)
    [entry] = [e for e in service.audit_of(payment.id) if e.action == "payments.refresh"]
    assert (entry.outcome, entry.actor) == ("QUARANTINED", "stripe")
    assert entry.detail["mismatch"] == "amount 9999 != stored 1000"
    stored = service.stored(payment.id)
    assert stored.state is PaymentState.REQUIRES_CAPTURE
    assert aged is not None
    assert stored.synced_at is not None
    assert stored.synced_at > aged


async def test_concurrent_gets_of_a_stale_payment_share_one_stripe_read(
    service: Service,
) -> None:
    payment = await _authorized(service)
    await service.age(payment.id)

    got = await asyncio.gather(*(service.payments.get(ORDERS, payment.id) for _ in range(5)))

    assert {p.id for p in got} == {payment.id}
    assert service.stripe.calls["retrieve_payment_intent"] == 1


async def test_stripe_away_during_a_refresh_answers_with_the_stored_payment(
    service: Service,
) -> None:
    payment = await _authorized(service)
    await service.age(payment.id)
    service.stripe.fail_next("retrieve_payment_intent", Unavailable("Stripe is away"))

    got = await service.payments.get(ORDERS, payment.id)

    assert got.state is PaymentState.REQUIRES_CAPTURE


async def test_a_final_payment_is_never_read_again(service: Service) -> None:
    payment = await service.payments.create(ORDERS, payment_request())
    await service.age(payment.id, seconds=86_400)

    got = await service.payments.get(ORDERS, payment.id)

    assert got.state is PaymentState.SUCCEEDED
    assert service.stripe.calls["retrieve_payment_intent"] == 0


async def test_another_accounts_payment_is_not_found(service: Service) -> None:
    payment = await service.payments.create(ORDERS, payment_request())

    with pytest.raises(NotFound):
        await service.payments.get(STRANGER, payment.id)


async def test_payments_are_listed_newest_first_a_page_at_a_time(service: Service) -> None:
    made = [await service.payments.create(ORDERS, payment_request(f"req-{n}")) for n in range(3)]

    first = await service.payments.list(SHOPPER, ListPayments(ACCOUNT, PageRequest(2)))
    rest = await service.payments.list(
        SHOPPER, ListPayments(ACCOUNT, PageRequest(2, first.next_page_token))
    )

    assert [p.id for p in first.items + rest.items] == [p.id for p in reversed(made)]
    assert rest.is_last


async def test_a_page_token_of_other_filters_is_refused(service: Service) -> None:
    for n in range(2):
        await service.payments.create(ORDERS, payment_request(f"req-{n}"))
    first = await service.payments.list(ORDERS, ListPayments(ACCOUNT, PageRequest(1)))

    other_filters = ListPayments(
        ACCOUNT, PageRequest(1, first.next_page_token), states=frozenset({PaymentState.SUCCEEDED})
    )
    with pytest.raises(InvalidArgument) as raised:
        await service.payments.list(ORDERS, other_filters)

    assert [v.field for v in raised.value.violations] == ["page_token"]


async def test_another_accounts_list_is_not_found(service: Service) -> None:
    with pytest.raises(NotFound):
        await service.payments.list(STRANGER, ListPayments(ACCOUNT, PageRequest()))
