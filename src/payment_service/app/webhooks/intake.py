"""New Stripe events stored once by their Stripe id and applied in the same transaction.

The webhook endpoint stores deliveries without applying them (``ingest.WebhookIngest``,
the appliers apply them); this store-and-apply path serves an event the reconciler
read from ``/v1/events`` (``ingest``) and, with ``webhook_apply_inline``, a verified
delivery (``receive``).
An acknowledged event is either applied or, when applying raised, stored as
FAILED with the error, the attempt count and the next attempt time, in a second
transaction after the first rolled back. Duplicates (also racing ones: the
unique Stripe event id makes the second insert wait for the first) change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry import trace

from payment_service.app.ports.events import StripeMapping
from payment_service.app.ports.storage import UnitOfWork
from payment_service.app.ports.webhooks import MalformedEvent
from payment_service.app.webhooks.applier import EventApplier
from payment_service.app.webhooks.ingest import new_record
from payment_service.app.webhooks.policy import Delivery
from payment_service.domain.entities import WebhookEvent
from payment_service.domain.ids import new_id
from payment_service.domain.processor import RemoteEvent

_TRACER = trace.get_tracer("payment_service.webhooks")


@dataclass
class WebhookIntake:
    applier: EventApplier
    mapping: StripeMapping

    def decode(self, payload: str) -> RemoteEvent:
        try:
            return self.mapping.decode_event(payload)
        except (ValueError, TypeError) as error:
            raise MalformedEvent(str(error)) from None

    async def receive(self, payload: str) -> Delivery:
        """A verified delivery: store it by its Stripe id and apply it (MalformedEvent if not
        an event)."""
        return await self._store_and_apply(payload, self.decode(payload))

    async def ingest(self, event: RemoteEvent) -> Delivery:
        """An event read from Stripe's API: the same store-and-apply path as a delivery."""
        return await self._store_and_apply(self.mapping.encode_event(event), event)

    async def _store_and_apply(self, payload: str, event: RemoteEvent) -> Delivery:
        with _TRACER.start_as_current_span(
            f"webhook {event.type}",
            attributes={"stripe.event_id": event.stripe_id, "stripe.event_type": event.type},
        ) as span:
            delivery = await self._store_and_apply_traced(payload, event)
            span.set_attribute("webhook.delivery", delivery.value)
            return delivery

    async def _store_and_apply_traced(self, payload: str, event: RemoteEvent) -> Delivery:
        record_id = new_id("whe")

        async def store_if_new(uow: UnitOfWork) -> WebhookEvent | None:
            record = _new_record(record_id, payload, event)
            return record if await uow.webhook_events.insert_if_new(record) else None

        try:
            outcome = await self.applier.apply_found(event, store_if_new)
        except Exception as error:  # the handler failed: keep the event, retry it later
            return await self._record_new_failure(_new_record(record_id, payload, event), error)
        if outcome is None:
            self.applier.metrics.outcome(event.type, Delivery.DUPLICATE.value)
            return Delivery.DUPLICATE
        return await self.applier.after_commit(event, outcome)

    async def _record_new_failure(self, record: WebhookEvent, error: Exception) -> Delivery:
        self.applier.fail(record, error)
        async with self.applier.uow_factory() as uow:
            if not await uow.webhook_events.insert_if_new(record):
                self.applier.metrics.outcome(record.type, Delivery.DUPLICATE.value)
                return Delivery.DUPLICATE
            await uow.commit()
        self.applier.report_failure(record, error)
        return Delivery.DEFERRED


def _new_record(record_id: str, payload: str, event: RemoteEvent) -> WebhookEvent:
    return new_record(payload, event, record_id)
