"""Webhook ingest: a verified delivery is stored durably, then answered; appliers apply it.

Deliveries that arrive together share one transaction (group commit): ``GroupCommit``
collects pending records for up to ``max_wait_s`` or until ``max_batch``, stores them
with one multi-row INSERT … ON CONFLICT DO NOTHING and one commit, and only then
resolves each waiter: True (stored now) or False (a duplicate: stored before, or an
earlier delivery of the same batch). A failed batch fails every waiter with
``NotStored`` (the endpoint answers 503, Stripe delivers again): nothing is
acknowledged before it is durable. After a commit that stored something, the
appliers are woken (``on_stored``); appliers of other replicas find it by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from opentelemetry import trace

from payment_service.app.common.trace_links import current_trace_parent
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.app.ports.webhooks import WebhookMetricsSink
from payment_service.app.webhooks.policy import Delivery
from payment_service.domain.clock import from_unix
from payment_service.domain.entities import WebhookEvent
from payment_service.domain.ids import new_id
from payment_service.domain.processor import RemoteEvent

log = logging.getLogger(__name__)
_TRACER = trace.get_tracer("payment_service.webhooks")

AFTER_STORE = "webhooks.ingest.after_store"  # failpoint: stored and committed, not answered


class NotStored(Exception):
    """The delivery's batch could not be stored (the database failed or is away)."""


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    max_batch: int = 64  # records in one INSERT and commit
    max_wait_s: float = 0.001  # how long a batch waits for more deliveries to join it


_Waiter = tuple[WebhookEvent, "asyncio.Future[bool]"]


@dataclass
class GroupCommit:
    uow_factory: UnitOfWorkFactory
    policy: IngestPolicy = field(default_factory=IngestPolicy)
    on_stored: Callable[[int], None] = lambda stored: None  # how many a commit stored
    failpoints: Failpoints = NO_FAILPOINTS
    _pending: list[_Waiter] = field(default_factory=list, init=False)
    _full: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _flusher: asyncio.Task[None] | None = field(default=None, init=False)

    async def store(self, record: WebhookEvent) -> bool:
        """Store ``record`` with the records pending beside it; True when it is new, False
        for a duplicate; NotStored when its batch failed."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((record, future))
        if len(self._pending) >= self.policy.max_batch:
            self._full.set()
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_all())
        return await future

    async def _flush_all(self) -> None:
        try:
            while self._pending:
                if len(self._pending) < self.policy.max_batch and self.policy.max_wait_s > 0:
                    self._full.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._full.wait(), self.policy.max_wait_s)
                batch = self._pending[: self.policy.max_batch]
                del self._pending[: self.policy.max_batch]
                await self._flush(batch)
        finally:
            self._flusher = None

    async def _flush(self, batch: list[_Waiter]) -> None:
        first: dict[str, WebhookEvent] = {}
        for record, _ in batch:
            first.setdefault(record.stripe_event_id, record)
        try:
            async with self.uow_factory() as uow:
                inserted = await uow.webhook_events.insert_many_if_new(list(first.values()))
                await uow.commit()
        except Exception as error:
            log.exception("webhook events could not be stored", extra={"batch": len(batch)})
            for _, future in batch:
                if not future.done():
                    future.set_exception(NotStored(type(error).__name__))
            return
        self.failpoints.hit(AFTER_STORE)
        if inserted:
            self.on_stored(len(inserted))
        for record, future in batch:
            if not future.done():
                new = record.stripe_event_id in inserted and first[record.stripe_event_id] is record
                future.set_result(new)


@dataclass
class WebhookIngest:
    """The request path: a verified, decoded delivery stored once (group commit)."""

    batcher: GroupCommit
    metrics: WebhookMetricsSink

    async def accept(self, payload: str, event: RemoteEvent) -> Delivery:
        """ACCEPTED once stored (the appliers apply it), DUPLICATE when stored before;
        NotStored when it could not be stored."""
        with _TRACER.start_as_current_span(
            f"webhook {event.type}",
            attributes={"stripe.event_id": event.stripe_id, "stripe.event_type": event.type},
        ):  # the applier's span links to this one (the record keeps its traceparent)
            stored = await self.batcher.store(new_record(payload, event))
        if stored:
            return Delivery.ACCEPTED
        self.metrics.outcome(event.type, Delivery.DUPLICATE.value)
        return Delivery.DUPLICATE


def new_record(payload: str, event: RemoteEvent, record_id: str | None = None) -> WebhookEvent:
    """A RECEIVED record of ``event`` as it arrived (``payload``), with its object's id."""
    return WebhookEvent(
        id=record_id or new_id("whe"),
        stripe_event_id=event.stripe_id,
        type=event.type,
        created=from_unix(event.created),
        payload=payload,
        trace_parent=current_trace_parent(),
        object_id=event.object_id,
    )
