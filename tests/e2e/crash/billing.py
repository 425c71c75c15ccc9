"""CreateSubscription, the subscription commands, PayInvoice and VoidInvoice crashed after
Stripe answered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc.aio
from google.protobuf.message import Message
from payments.v1 import invoice_service_pb2 as inv_pb
from payments.v1 import subscription_service_pb2 as pb

from payment_service.domain.entities import Invoice, Subscription
from payment_service.domain.states import InvoiceState, PaymentState, SubscriptionState
from tests.e2e.billing.support import DECLINE_AT_CHARGE, VISA
from tests.e2e.crash.matrix import Case, Write
from tests.e2e.crash.support import CALLER, World, audit_actions, request_id, stored_payment
from tests.support.stack import error_details

# What a command leaves at Stripe (the subscription as Stripe holds it) and in our row.
StripeCheck = Callable[[dict[str, Any], Subscription], None]


async def _subscribed(world: World) -> pb.Subscription:
    price = await world.price()
    await world.card()
    response = await world.subscriptions.CreateSubscription(
        pb.CreateSubscriptionRequest(
            request_id=request_id(), account_id=world.account_id, price_id=price.id
        ),
        metadata=world.auth(),
        timeout=30,
    )
    subscription: pb.Subscription = response.subscription
    assert subscription.state == pb.SUBSCRIPTION_STATE_ACTIVE
    return subscription


async def _subscription_row(world: World, subscription_id: str) -> Subscription:
    async def read(uow: Any) -> Subscription | None:
        found: Subscription | None = await uow.subscriptions.get(subscription_id)
        return found

    return await world.stored(read)


async def _synced(world: World, account_id: str) -> None:
    """``payment-service sync --account``: the account's subscriptions re-read from Stripe."""
    async with world.reconciler() as services:
        await services.billing.repair.sync_account(account_id)


def _command(
    world: World,
    subscription: pb.Subscription,
    send: Callable[[], Awaitable[Message]],
    action: str,
    holds: StripeCheck,
) -> Write:

    async def check(answer: Message) -> None:
        assert isinstance(answer, pb.Subscription)
        remote = await world.localstripe.retrieve(
            "subscriptions", subscription.stripe_subscription_id
        )
        row = await _subscription_row(world, subscription.id)
        holds(remote, row)
        assert answer.state == pb.SubscriptionState.Value(f"SUBSCRIPTION_STATE_{row.state.name}")
        assert remote["metadata"]["subscription_id"] == subscription.id
        actions = await audit_actions(world.uow_factory, "subscription", subscription.id)
        assert actions.count(action) == 1, actions

    return Write(send, lambda: _synced(world, world.account_id), check)


async def update(world: World) -> Write:
    subscription = await _subscribed(world)
    request = pb.UpdateSubscriptionRequest(request_id=request_id(), id=subscription.id, quantity=2)

    def holds(remote: dict[str, Any], row: Subscription) -> None:
        assert remote["items"]["data"][0]["quantity"] == 2
        assert row.item.quantity == 2

    async def send() -> Message:
        response = await world.subscriptions.UpdateSubscription(
            request, metadata=world.auth(), timeout=30
        )
        answer: pb.Subscription = response.subscription
        return answer

    return _command(world, subscription, send, "subscriptions.update", holds)


async def cancel_now(world: World) -> Write:
    subscription = await _subscribed(world)
    request = pb.CancelSubscriptionRequest(request_id=request_id(), id=subscription.id)

    def holds(remote: dict[str, Any], row: Subscription) -> None:
        assert remote["status"] == "canceled"
        assert row.state is SubscriptionState.CANCELED

    async def send() -> Message:
        response = await world.subscriptions.CancelSubscription(
            request, metadata=world.auth(), timeout=30
        )
        answer: pb.Subscription = response.subscription
        return answer

    return _command(world, subscription, send, "subscriptions.cancel", holds)


async def cancel_at_period_end(world: World) -> Write:
    subscription = await _subscribed(world)
    request = pb.CancelSubscriptionRequest(
        request_id=request_id(), id=subscription.id, at_period_end=True
    )

    def holds(remote: dict[str, Any], row: Subscription) -> None:
        assert remote["status"] == "active"
        assert remote["cancel_at_period_end"] is True
        assert row.state is SubscriptionState.ACTIVE
        assert row.cancel_at_period_end

    async def send() -> Message:
        response = await world.subscriptions.CancelSubscription(
            request, metadata=world.auth(), timeout=30
        )
        answer: pb.Subscription = response.subscription
        return answer

    return _command(world, subscription, send, "subscriptions.cancel", holds)


async def pause(world: World) -> Write:
    subscription = await _subscribed(world)
    request = pb.PauseSubscriptionRequest(
        request_id=request_id(), id=subscription.id, behavior=pb.PAUSE_BEHAVIOR_KEEP_AS_DRAFT
    )

    def holds(remote: dict[str, Any], row: Subscription) -> None:
        assert (remote.get("pause_collection") or {}).get("behavior") == "keep_as_draft"
        assert row.pause_behavior is not None
        assert row.pause_behavior.value == "keep_as_draft"

    async def send() -> Message:
        response = await world.subscriptions.PauseSubscription(
            request, metadata=world.auth(), timeout=30
        )
        answer: pb.Subscription = response.subscription
        return answer

    return _command(world, subscription, send, "subscriptions.pause", holds)


async def resume(world: World) -> Write:
    """Resume a subscription set to cancel at the period end."""
    subscription = await _subscribed(world)
    await world.subscriptions.CancelSubscription(
        pb.CancelSubscriptionRequest(
            request_id=request_id(), id=subscription.id, at_period_end=True
        ),
        metadata=world.auth(),
        timeout=30,
    )
    request = pb.ResumeSubscriptionRequest(request_id=request_id(), id=subscription.id)

    def holds(remote: dict[str, Any], row: Subscription) -> None:
        assert remote["status"] == "active"
        assert not remote["cancel_at_period_end"]
        assert row.state is SubscriptionState.ACTIVE
        assert not row.cancel_at_period_end

    async def send() -> Message:
        response = await world.subscriptions.ResumeSubscription(
            request, metadata=world.auth(), timeout=30
        )
        answer: pb.Subscription = response.subscription
        return answer

    return _command(world, subscription, send, "subscriptions.resume", holds)


async def create(world: World) -> Write:
    price = await world.price()
    await world.card()
    request = pb.CreateSubscriptionRequest(
        request_id=request_id(), account_id=world.account_id, price_id=price.id
    )

    async def send() -> Message:
        response = await world.subscriptions.CreateSubscription(
            request, metadata=world.auth(), timeout=30
        )
        subscription: pb.Subscription = response.subscription
        return subscription

    async def row(uow: Any) -> Subscription | None:
        found: Subscription | None = await uow.subscriptions.find_by_request(
            CALLER, request.request_id
        )
        return found

    async def arrive() -> None:
        """The reconciler finishes the subscription the crash left unanswered."""
        await world.lease_over(row)
        pending = await world.stored(row)
        async with world.reconciler() as services:
            finished = await services.billing.subscribe.finish_pending(pending.id)
        assert finished.state is SubscriptionState.ACTIVE

    async def check(answer: Message) -> None:
        assert isinstance(answer, pb.Subscription)
        assert answer.state == pb.SUBSCRIPTION_STATE_ACTIVE
        at_stripe = [
            s
            for s in await world.localstripe.list_objects("subscriptions")
            if s["metadata"].get("subscription_id") == answer.id
        ]
        assert [s["status"] for s in at_stripe] == ["active"]
        stored = await world.stored(row)
        assert stored.stripe_subscription_id == at_stripe[0]["id"]
        assert stored.state is SubscriptionState.ACTIVE
        invoices = [
            i
            for i in await world.localstripe.list_objects("invoices")
            if i.get("subscription") == at_stripe[0]["id"]
        ]
        assert [i["status"] for i in invoices] == ["paid"]

    return Write(send, arrive, check)


async def _open_invoice(world: World) -> tuple[inv_pb.Invoice, str]:
    """A first invoice left open by a declined card, and a good card of the account."""
    price = await world.price()
    await world.card(DECLINE_AT_CHARGE)
    good = await world.card(VISA, default=False)
    try:
        await world.subscriptions.CreateSubscription(
            pb.CreateSubscriptionRequest(
                request_id=request_id(), account_id=world.account_id, price_id=price.id
            ),
            metadata=world.auth(),
            timeout=30,
        )
    except grpc.aio.AioRpcError as error:
        subscription_id = error_details(error).metadata["subscription_id"]
    else:
        raise AssertionError("the first payment was not declined")
    listed = await world.invoices.ListInvoices(
        inv_pb.ListInvoicesRequest(subscription_id=subscription_id),
        metadata=world.auth(),
        timeout=20,
    )
    (invoice,) = listed.invoices
    assert invoice.state == inv_pb.INVOICE_STATE_OPEN
    return invoice, good.stripe_payment_method_id


async def _invoice_row(world: World, invoice_id: str) -> Invoice:
    async def read(uow: Any) -> Invoice | None:
        found: Invoice | None = await uow.invoices.get(invoice_id)
        return found

    return await world.stored(read)


# What PayInvoice and VoidInvoice ask for: the answer's state, our row's, the audit action.
_ASKED = {
    "invoices.pay": (inv_pb.INVOICE_STATE_PAID, InvoiceState.PAID),
    "invoices.void": (inv_pb.INVOICE_STATE_VOID, InvoiceState.VOID),
}


def _invoice_command(
    world: World, invoice: inv_pb.Invoice, send: Callable[[], Awaitable[Message]], action: str
) -> Write:
    state, stored_state = _ASKED[action]

    async def arrive() -> None:
        """GetInvoice re-reads the open invoice from Stripe."""
        response = await world.invoices.GetInvoice(
            inv_pb.GetInvoiceRequest(id=invoice.id), metadata=world.auth(), timeout=20
        )
        assert response.invoice.state == state

    async def check(answer: Message) -> None:
        assert isinstance(answer, inv_pb.Invoice)
        assert answer.state == state
        remote = await world.localstripe.retrieve("invoices", invoice.stripe_invoice_id)
        row = await _invoice_row(world, invoice.id)
        assert row.state is stored_state
        assert remote["status"] == stored_state.value
        if action == "invoices.pay":
            await _paid_once(world, remote, row)
        actions = await audit_actions(world.uow_factory, "invoice", invoice.id)
        assert actions.count(action) == 1, actions

    return Write(send, arrive, check)


async def _paid_once(world: World, remote: dict[str, Any], row: Invoice) -> None:
    """One succeeded charge on the invoice's PaymentIntent; our payment of it succeeded."""
    intent = await world.localstripe.retrieve("payment_intents", remote["payment_intent"])
    assert intent["status"] == "succeeded"
    charges = intent["charges"]["data"]
    assert [c["status"] for c in charges].count("succeeded") == 1
    assert row.payment_id is not None
    assert (await stored_payment(world.uow_factory, row.payment_id)).state is (
        PaymentState.SUCCEEDED
    )


async def pay(world: World) -> Write:
    invoice, good = await _open_invoice(world)
    request = inv_pb.PayInvoiceRequest(
        request_id=request_id(), id=invoice.id, stripe_payment_method_id=good
    )

    async def send() -> Message:
        response = await world.invoices.PayInvoice(request, metadata=world.auth(), timeout=30)
        answer: inv_pb.Invoice = response.invoice
        return answer

    return _invoice_command(world, invoice, send, "invoices.pay")


async def void(world: World) -> Write:
    invoice, _ = await _open_invoice(world)
    request = inv_pb.VoidInvoiceRequest(request_id=request_id(), id=invoice.id)

    async def send() -> Message:
        response = await world.invoices.VoidInvoice(request, metadata=world.auth(), timeout=30)
        answer: inv_pb.Invoice = response.invoice
        return answer

    return _invoice_command(world, invoice, send, "invoices.void")


CASES = (
    # Found at Stripe by our id; its first invoice is then paid (new keys: after the crash).
    Case("billing.create", "billing.create.after_stripe", create, resends=frozenset()),
    Case("subscriptions.update", "subscriptions.update.after_stripe", update),
    # Canceled by a DELETE, which carries no idempotency key (it is idempotent itself).
    Case(
        "subscriptions.cancel",
        "subscriptions.cancel.after_stripe",
        cancel_now,
        resends=frozenset(),
    ),
    Case(
        "subscriptions.cancel_at_period_end",
        "subscriptions.cancel.after_stripe",
        cancel_at_period_end,
    ),
    Case("subscriptions.pause", "subscriptions.pause.after_stripe", pause),
    Case("subscriptions.resume", "subscriptions.resume.after_stripe", resume),
    Case("invoices.pay", "invoices.pay.after_stripe", pay),
    Case("invoices.void", "invoices.void.after_stripe", void),
)
