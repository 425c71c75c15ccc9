"""Billing's changes are events too: a subscription made, paid and canceled through the
API (and Stripe's webhooks) leaves subscription.*, invoice.* and payment.* events of the
account, each with the object as the API shows it, in the order the objects changed."""

from __future__ import annotations

from payments.v1 import event_service_pb2 as event_pb
from payments.v1 import event_service_pb2_grpc
from payments.v1 import subscription_service_pb2 as pb

from tests.e2e.billing.support import BillingStack, request_id, wait_for


async def _events(billing: BillingStack) -> list[event_pb.Event]:
    stub = event_service_pb2_grpc.EventServiceStub(billing.stack.channel)
    found: list[event_pb.Event] = []
    request = event_pb.ListEventsRequest(account_id=billing.account_id, page_size=200)
    while True:
        page = await stub.ListEvents(request, metadata=billing.auth(), timeout=20)
        found.extend(page.events)
        if not page.next_page_token:
            return found
        request.page_token = page.next_page_token


async def test_a_subscription_paid_then_canceled_is_told_in_events(
    billing: BillingStack,
) -> None:
    price = await billing.price(1200)
    await billing.card()
    subscription = await billing.subscribe(price)
    assert subscription.state == pb.SUBSCRIPTION_STATE_ACTIVE
    (invoice,) = await billing.invoices_of(subscription.id)
    await billing.subscriptions.CancelSubscription(
        pb.CancelSubscriptionRequest(request_id=request_id(), id=subscription.id),
        metadata=billing.auth(),
        timeout=20,
    )

    async def told() -> list[event_pb.Event] | None:
        events = await _events(billing)
        types = {(e.object_id, e.type) for e in events}
        wanted = {
            (subscription.id, "subscription.created"),
            (subscription.id, "subscription.active"),
            (subscription.id, "subscription.canceled"),
            (invoice.id, "invoice.paid"),
            (invoice.payment_id, "payment.succeeded"),
        }
        return events if wanted <= types else None

    events = await wait_for(told, what="the billing events")
    sub_events = [e for e in events if e.object_id == subscription.id]
    assert sub_events[0].type == "subscription.created"
    assert sub_events[-1].type == "subscription.canceled"
    assert sub_events[-1].subscription.state == pb.SUBSCRIPTION_STATE_CANCELED
    assert [e.type for e in sub_events].index("subscription.active") < len(sub_events) - 1
    paid = next(e for e in events if e.type == "invoice.paid")
    assert paid.invoice.id == invoice.id
    assert paid.invoice.amount_paid == 1200
    assert all(e.account_id == billing.account_id for e in events)
    assert len({e.id for e in events}) == len(events)
