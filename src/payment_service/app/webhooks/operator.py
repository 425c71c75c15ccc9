"""Operations on stored events: list, replay, requeue, and the backlog gauges.

Events that died of a transient error (Stripe away, an object not stored yet) are
put back in the queue by the reconciler (``requeue_transient_dead``); IGNORED
events of a capability that gets real handlers are requeued with
``requeue_ignored``; ``backlog`` feeds the gauges of FAILED and DEAD events.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from payment_service.app.common.audit import audit_entry
from payment_service.app.common.audit_context import system_actor_or
from payment_service.app.ports.storage import UnitOfWork
from payment_service.app.webhooks.applier import EventApplier
from payment_service.app.webhooks.policy import died_of_transient_error
from payment_service.app.webhooks.retrier import Retrier
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import WebhookEvent
from payment_service.domain.errors import NotFound
from payment_service.domain.pagination import PageRequest
from payment_service.domain.states import WebhookEventState

log = logging.getLogger(__name__)

# RECEIVED: stored, not applied yet (its oldest age is the ingest-to-applied lag now).
_BACKLOG_STATES = (WebhookEventState.RECEIVED, WebhookEventState.FAILED, WebhookEventState.DEAD)
OPERATOR_ACTOR = "operator"  # when no one says who is acting


@dataclass
class WebhookOperator:
    applier: EventApplier
    retrier: Retrier

    async def replay(self, event_id: str) -> WebhookEvent:
        """Operator replay of a failed, dead, quarantined or ignored event (our ``whe_`` id or
        Stripe's ``evt_`` id): queue it again with a fresh retry budget and apply it now;
        return it as it ended."""
        now = utcnow()
        async with self.applier.uow_factory() as uow:
            record = await uow.webhook_events.get(event_id)
            if record is None:
                record = await uow.webhook_events.find_by_stripe_event_id(event_id)
            if record is None:
                raise NotFound("webhook_event", event_id)
            record = await uow.webhook_events.get_for_update(record.id) or record
            before = record.state
            record.requeue_for_replay(now)
            record.next_attempt_at = now + timedelta(seconds=self.applier.policy.lease_s)
            await uow.webhook_events.update(record)
            await _audit_requeue(uow, "webhooks.replay", record, before)
            await uow.commit()
        await self.retrier.attempt(record)
        async with self.applier.uow_factory(read_only=True) as uow:
            final = await uow.webhook_events.get(record.id)
        if final is None:
            raise NotFound("webhook_event", record.id)
        return final

    async def replay_all_failed(self) -> list[WebhookEvent]:
        """Replay every FAILED and DEAD event, oldest first."""
        stuck = await self.list_events((WebhookEventState.FAILED, WebhookEventState.DEAD))
        return [await self.replay(record.id) for record in reversed(stuck)]

    async def requeue_transient_dead(
        self, *, created_after: datetime, limit: int = 1000
    ) -> tuple[int, list[WebhookEvent]]:
        """Give DEAD events that died of a transient error (TRANSIENT_ERRORS) and were created
        at Stripe after ``created_after`` a fresh retry budget; return how many were queued
        and the events left DEAD."""
        requeued, left = 0, []
        for dead in await self.list_events((WebhookEventState.DEAD,), limit=limit):
            if not (died_of_transient_error(dead) and dead.created > created_after):
                left.append(dead)
            elif await self._requeue(dead.id, WebhookEventState.DEAD):
                log.warning(
                    "dead webhook event queued again: it died of a transient error",
                    extra={"stripe_event_id": dead.stripe_event_id, "event_type": dead.type},
                )
                requeued += 1
        return requeued, left

    async def requeue_ignored(self, event_types: Collection[str]) -> int:
        """Queue IGNORED events of ``event_types`` again, e.g. once a capability that only
        stored its events gets real handlers; the retrier applies them."""
        wanted = frozenset(event_types)
        requeued = 0
        for stored in await self.list_events((WebhookEventState.IGNORED,)):
            if stored.type in wanted and await self._requeue(stored.id, WebhookEventState.IGNORED):
                requeued += 1
        return requeued

    async def _requeue(self, record_id: str, expected: WebhookEventState) -> bool:
        """Back in the queue, if it is still in ``expected`` once locked."""
        async with self.applier.uow_factory() as uow:
            record = await uow.webhook_events.get_for_update(record_id)
            if record is None or record.state is not expected:
                return False
            record.requeue_for_replay(utcnow())
            await uow.webhook_events.update(record)
            await _audit_requeue(uow, "webhooks.requeue", record, expected)
            await uow.commit()
        return True

    async def backlog(self) -> dict[WebhookEventState, tuple[int, float]]:
        """Count RECEIVED, FAILED and DEAD events (and the age of the oldest) and publish
        the gauges."""
        now = utcnow()
        async with self.applier.uow_factory(read_only=True) as uow:
            stats = await uow.webhook_events.backlog(_BACKLOG_STATES)
        found: dict[WebhookEventState, tuple[int, float]] = {}
        for state in _BACKLOG_STATES:
            count, oldest = stats.get(state, (0, None))
            age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
            found[state] = (count, age)
            self.applier.metrics.backlog(state.value, count, age)
        return found

    async def list_events(
        self, states: Collection[WebhookEventState] = (), limit: int | None = None
    ) -> list[WebhookEvent]:
        """Stored events, newest received first, optionally only in ``states``."""
        found: list[WebhookEvent] = []
        page = PageRequest(page_size=200)
        async with self.applier.uow_factory(read_only=True) as uow:
            while limit is None or len(found) < limit:
                batch = await uow.webhook_events.list_events(page=page, states=states)
                found.extend(batch.items)
                if batch.is_last:
                    break
                page = PageRequest(page_size=200, page_token=batch.next_page_token)
        return found if limit is None else found[:limit]


async def _audit_requeue(
    uow: UnitOfWork, action: str, record: WebhookEvent, before: WebhookEventState
) -> None:
    """An event put back in the queue, by whoever is acting (an operator, the reconciler)."""
    await uow.audit.add(
        audit_entry(
            system_actor_or(OPERATOR_ACTOR),
            action,
            ("webhook_event", record.id),
            "requeued",
            {"stripe_event_id": record.stripe_event_id, "from": before.value},
        )
    )
