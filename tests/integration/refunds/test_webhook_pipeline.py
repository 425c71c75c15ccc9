"""Refund events through the real store-and-apply path, merged with the other handler maps."""

from __future__ import annotations

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway, mapping
from payment_service.app.common.entity_codec import encode_entity
from payment_service.app.payments.rules import cache_key
from payment_service.app.webhooks.policy import Delivery
from payment_service.app.webhooks.service import Webhooks
from payment_service.bootstrap.services import event_registry
from payment_service.domain.processor import RemoteEvent
from payment_service.domain.states import PaymentRefundState
from tests.integration.refunds.helpers import stored_payment, succeeded_payment
from tests.support.localstripe import LocalStripe


class _Outcomes:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def outcome(self, event_type: str, outcome: str) -> None:
        self.seen.append((event_type, outcome))


async def test_dashboard_refund_event_through_the_webhook_pipeline(
    uow_factory: SqlUnitOfWorkFactory, gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    registry = event_registry(gateway)
    assert not {"refund.created", "charge.refunded"} & registry.missing_required()
    cache, metrics = MemoryCache(), _Outcomes()
    webhooks = Webhooks(uow_factory, registry, mapping, cache, metrics)

    paid = await succeeded_payment(uow_factory, gateway, localstripe, amount=1000)
    payment = await stored_payment(uow_factory, paid.id)
    await cache.put(cache_key(paid.id), payment.version, encode_entity(payment), 60)
    made = await localstripe.request(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_id, "amount": "1000"}
    )
    event = RemoteEvent(
        stripe_id="evt_dashboard_refund",
        type="refund.created",
        created=made["created"],
        data_object=made,
        api_version=None,
    )

    assert await webhooks.ingest(event) is Delivery.APPLIED
    assert await webhooks.ingest(event) is Delivery.DUPLICATE
    assert metrics.seen == [("refund.created", "applied"), ("refund.created", "duplicate")]
    assert await cache.get(cache_key(paid.id)) is None
    payment = await stored_payment(uow_factory, paid.id)
    assert (payment.amount_refunded, payment.refund_state) == (1000, PaymentRefundState.REFUNDED)
