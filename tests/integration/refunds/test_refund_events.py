"""Refund webhooks applied in a unit of work: imports, failures, order, integrity."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import pytest

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway, mapping
from payment_service.app.ports.events import EventOutcome, ObjectNotYetKnown, OutcomeKind
from payment_service.app.refunds.events import refund_event_handlers
from payment_service.app.refunds.rules import OUTSIDE_CALLER, CreateRefund, ListRefunds
from payment_service.app.refunds.service import Refunds
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Refund
from payment_service.domain.errors import FailedPrecondition
from payment_service.domain.ids import new_id
from payment_service.domain.pagination import PageRequest
from payment_service.domain.processor import RemoteEvent
from payment_service.domain.states import PaymentRefundState, RefundState
from tests.integration.refunds.helpers import (
    StoredPayment,
    stored_payment,
    stored_refund,
    succeeded_payment,
)
from tests.support.localstripe import LocalStripe

SUPPORT = Caller("svc-support", frozenset({"refunds:write", "refunds:read"}))
_event_ids = itertools.count()


def refund_json(
    stripe_id: str,
    paid: StoredPayment,
    amount: int,
    status: str,
    *,
    metadata: Mapping[str, str] | None = None,
    created: int = 1_700_000_000,
) -> dict[str, Any]:
    """A Refund in today's API shape (see resources.refund in tests/fixtures/stripe/fixtures3.json)."""
    return {
        "id": stripe_id,
        "object": "refund",
        "amount": amount,
        "charge": f"ch_{paid.stripe_id}",
        "created": created,
        "currency": paid.currency,
        "failure_reason": "expired_or_canceled_card" if status == "failed" else None,
        "metadata": dict(metadata or {}),
        "payment_intent": paid.stripe_id,
        "reason": None,
        "status": status,
    }


def event(event_type: str, data_object: Mapping[str, Any], created: int) -> RemoteEvent:
    return RemoteEvent(
        stripe_id=f"evt_{next(_event_ids)}",
        type=event_type,
        created=created,
        data_object=dict(data_object),
        api_version="2025-08-27.basil",
    )


@pytest.fixture
def deliver(uow_factory: SqlUnitOfWorkFactory, gateway: StripeGateway) -> Any:
    handlers = refund_event_handlers(mapping=mapping, processor=gateway)

    async def apply(remote_event: RemoteEvent) -> EventOutcome:
        async with uow_factory() as uow:
            outcome = await handlers[remote_event.type](remote_event, uow)
            await uow.commit()
        return outcome

    return apply


async def test_handler_map_covers_the_refund_event_types(gateway: StripeGateway) -> None:
    assert set(refund_event_handlers(mapping=mapping, processor=gateway)) == {
        "charge.refunded",
        "charge.refund.updated",
        "refund.created",
        "refund.updated",
        "refund.failed",
    }


async def test_dashboard_refund_is_imported_and_counts(
    deliver: Any,
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    made = await localstripe.request(  # someone refunds in the Stripe dashboard
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_id, "amount": "200"}
    )
    created = event("refund.created", made, made["created"])
    outcome = await deliver(created)
    assert outcome.kind is OutcomeKind.APPLIED
    assert outcome.cache_keys == (f"payment:{paid.id}",)
    assert (await deliver(created)).kind is not OutcomeKind.QUARANTINED  # a duplicate is harmless

    [imported] = (await refunds.list(SUPPORT, ListRefunds(PageRequest(), payment_id=paid.id))).items
    assert (imported.stripe_refund_id, imported.amount, imported.state) == (
        made["id"],
        200,
        RefundState.SUCCEEDED,
    )
    assert imported.caller == OUTSIDE_CALLER
    assert (await stored_payment(uow_factory, paid.id)).amount_refunded == 200
    with pytest.raises(FailedPrecondition) as raised:
        await refunds.create(SUPPORT, CreateRefund(request_id="r", payment_id=paid.id, amount=801))
    assert raised.value.metadata["refundable"] == "800"


async def test_failed_refund_gives_its_amount_back_and_late_events_do_not_undo_it(
    deliver: Any,
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    mine = await refunds.create(SUPPORT, CreateRefund(request_id="f", payment_id=paid.id))
    assert mine.stripe_refund_id is not None
    payment = await stored_payment(uow_factory, paid.id)
    assert payment.refund_state is PaymentRefundState.REFUNDED

    failed_at = 1_900_000_000
    failed = refund_json(mine.stripe_refund_id, paid, 1000, "failed", created=failed_at - 60)
    assert (await deliver(event("refund.failed", failed, failed_at))).kind is OutcomeKind.APPLIED
    refund = await stored_refund(uow_factory, mine.id)
    assert (refund.state, refund.failure_reason) == (RefundState.FAILED, "expired_or_canceled_card")
    payment = await stored_payment(uow_factory, paid.id)
    assert (payment.amount_refunded, payment.refund_state) == (0, PaymentRefundState.NONE)

    late = refund_json(mine.stripe_refund_id, paid, 1000, "succeeded")
    outcome = await deliver(event("refund.updated", late, failed_at - 30))
    assert outcome.kind is OutcomeKind.IGNORED
    assert (await stored_refund(uow_factory, mine.id)).state is RefundState.FAILED

    again = await refunds.create(SUPPORT, CreateRefund(request_id="f2", payment_id=paid.id))
    assert (again.amount, again.state) == (1000, RefundState.SUCCEEDED)


async def test_event_before_our_answer_links_our_own_row(
    deliver: Any,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    row = Refund(
        id=new_id("rfd"),
        payment_id=paid.id,
        account_id=paid.account_id,
        caller="svc-support",
        request_id="early",
        request_hash="0" * 64,
        amount=300,
        currency="usd",
    )
    async with uow_factory() as uow:
        await uow.refunds.add(row)
        await uow.commit()
    body = refund_json("re_early", paid, 300, "succeeded", metadata={"refund_id": row.id})
    assert (
        await deliver(event("charge.refund.updated", body, 1_700_000_100))
    ).kind is OutcomeKind.APPLIED
    linked = await stored_refund(uow_factory, row.id)
    assert (linked.stripe_refund_id, linked.state) == ("re_early", RefundState.SUCCEEDED)
    assert (await stored_payment(uow_factory, paid.id)).amount_refunded == 300

    ghost = refund_json("re_ghost", paid, 5, "succeeded", metadata={"refund_id": "rfd_missing"})
    with pytest.raises(ObjectNotYetKnown):
        await deliver(event("refund.created", ghost, 1_700_000_100))


async def test_contradicting_or_foreign_refunds(
    deliver: Any,
    refunds: Refunds,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    mine = await refunds.create(
        SUPPORT, CreateRefund(request_id="q", payment_id=paid.id, amount=100)
    )
    assert mine.stripe_refund_id is not None
    wrong = refund_json(mine.stripe_refund_id, paid, 999, "failed")
    assert (
        await deliver(event("refund.updated", wrong, 1_900_000_000))
    ).kind is OutcomeKind.QUARANTINED
    assert (await stored_refund(uow_factory, mine.id)).state is RefundState.SUCCEEDED

    foreign = StoredPayment("pay_x", "acct_x", "pi_not_ours", 1000, "usd")
    outcome = await deliver(
        event("refund.created", refund_json("re_f", foreign, 10, "succeeded"), 1)
    )
    assert outcome.kind is OutcomeKind.IGNORED
    unreadable = {**refund_json("re_u", paid, 10, "succeeded"), "status": "exploded"}
    assert (await deliver(event("refund.created", unreadable, 1))).kind is OutcomeKind.QUARANTINED


async def test_charge_refunded_imports_embedded_refunds(
    deliver: Any,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    charge = {
        "id": f"ch_{paid.stripe_id}",
        "object": "charge",
        "amount": 1000,
        "amount_captured": 1000,
        "amount_refunded": 500,
        "captured": True,
        "currency": "usd",
        "payment_intent": paid.stripe_id,
        "status": "succeeded",
        "created": 1_700_000_000,
        "refunds": {
            "object": "list",
            "has_more": False,
            "data": [
                refund_json("re_c1", paid, 200, "succeeded"),
                refund_json("re_c2", paid, 300, "pending"),
            ],
        },
    }
    outcome = await deliver(event("charge.refunded", charge, 1_700_000_050))
    assert outcome.kind is OutcomeKind.APPLIED
    async with uow_factory(read_only=True) as uow:
        page = await uow.refunds.list_for_payment(paid.id, page=PageRequest())
    assert sorted((r.stripe_refund_id, r.state) for r in page.items) == [
        ("re_c1", RefundState.SUCCEEDED),
        ("re_c2", RefundState.PENDING),
    ]
    assert (await stored_payment(uow_factory, paid.id)).amount_refunded == 200


async def test_charge_refunded_without_its_refunds_asks_stripe(
    deliver: Any,
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    made = await localstripe.request(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_id, "amount": "350"}
    )
    charge = await localstripe.retrieve("charges", made["charge"])
    charge.pop("refunds", None)  # today's API sends no refunds list on the charge
    outcome = await deliver(event("charge.refunded", charge, made["created"]))
    assert outcome.kind is OutcomeKind.APPLIED
    async with uow_factory(read_only=True) as uow:
        stored = await uow.refunds.find_by_stripe_id(made["id"])
    assert stored is not None
    assert (stored.amount, stored.state) == (350, RefundState.SUCCEEDED)
    assert (await stored_payment(uow_factory, paid.id)).amount_refunded == 350
    again = await deliver(event("charge.refunded", charge, made["created"]))
    assert again.kind is OutcomeKind.IGNORED  # our rows explain amount_refunded now
