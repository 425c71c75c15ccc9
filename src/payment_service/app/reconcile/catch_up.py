"""Catching up on Stripe's ``/v1/events``: the events whose delivery failed for good.

Events are read forward from the newest one seen and fed through the webhook
store-and-apply path, so a missed event is applied once and a delivered one is a
no-op. The cursor (that event's id and time) is stored after every page, so a
backlog of any size is worked off over a few passes and never stops the catch-up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from payment_service.app.common.repair import RepairTally
from payment_service.app.ports.processor import EventListing, PaymentProcessor
from payment_service.app.ports.reconcile import RepairReport
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.app.reconcile.rules import ReconcilerRules
from payment_service.app.webhooks.policy import Delivery
from payment_service.app.webhooks.service import Webhooks
from payment_service.domain.clock import utcnow
from payment_service.domain.errors import InvalidArgument, NotFound
from payment_service.domain.processor import RemoteEvent

log = logging.getLogger(__name__)

EVENTS_CURSOR_KEY = "stripe_events.newest_seen"
_PAGE = 100  # events per list call (Stripe's maximum)


@dataclass
class EventCatchUp:
    uow_factory: UnitOfWorkFactory
    processor: PaymentProcessor
    webhooks: Webhooks
    rules: ReconcilerRules

    async def run(self) -> RepairReport:
        """Apply the events Stripe has that we may have missed, oldest first, walking forward
        from the newest one seen and storing the cursor after every page."""
        tally = RepairTally("catch_up_events", utcnow())
        async with self.uow_factory(read_only=True) as uow:
            cursor = _read_cursor(await uow.reconciler_state.get(EVENTS_CURSOR_KEY))
        if cursor is None:
            since = int(tally.now.timestamp() - self.rules.event_lookback_s)
            anchor = None
        else:
            since = int(cursor[0] - self.rules.event_overlap_s)
            anchor = cursor[1]
        pages = 0

        def newer_than(anchor: str) -> EventListing:
            return EventListing(created_after=since, ending_before=anchor, limit=_PAGE)

        if anchor is not None:
            try:
                first = await self.processor.list_events(newer_than(anchor))
            except (NotFound, InvalidArgument):
                log.warning(
                    "the newest event seen is gone at Stripe; reading events by time",
                    extra={"stripe_event_id": anchor},
                )
                anchor = None
        if anchor is None:
            start = await self._oldest_page(since, tally)
            if not start:
                return tally.report()
            await self._apply_page(start, tally)
            anchor = start[-1].stripe_id
            pages += 1
            first = await self.processor.list_events(newer_than(anchor))
        page = first
        while page.events:
            await self._apply_page(list(reversed(page.events)), tally)
            anchor = page.events[0].stripe_id
            pages += 1
            if not page.has_more:
                break
            if pages >= self.rules.max_event_pages:
                log.info(
                    "more Stripe events to catch up; the next pass goes on",
                    extra={"pages": pages, "stripe_event_id": anchor},
                )
                break
            page = await self.processor.list_events(newer_than(anchor))
        return tally.report()

    async def _oldest_page(self, since: int, tally: RepairTally) -> list[RemoteEvent]:
        """The oldest page of events created after ``since``, oldest first: walk back from
        the newest (at most ``max_event_pages`` pages)."""
        page = await self.processor.list_events(EventListing(created_after=since, limit=_PAGE))
        walked = 1
        while page.has_more and page.events and walked < self.rules.max_event_pages:
            older = await self.processor.list_events(
                EventListing(
                    created_after=since, starting_after=page.events[-1].stripe_id, limit=_PAGE
                )
            )
            if not older.events:
                break
            page, walked = older, walked + 1
        if page.has_more:
            log.error(
                "too many Stripe events to find the oldest; older ones are not caught up",
                extra={"created_after": since, "pages": walked},
            )
            tally.errors += 1
        return list(reversed(page.events))

    async def _apply_page(self, oldest_first: Sequence[RemoteEvent], tally: RepairTally) -> None:
        for event in oldest_first:
            delivery = await self.webhooks.ingest(event)
            if delivery is not Delivery.DUPLICATE:
                tally.repaired += 1
        newest = oldest_first[-1]
        value = json.dumps({"created": newest.created, "id": newest.stripe_id})
        async with self.uow_factory() as uow:
            await uow.reconciler_state.set(EVENTS_CURSOR_KEY, value)
            await uow.commit()


def _read_cursor(value: str | None) -> tuple[int, str | None] | None:
    """(created, event id) of the newest event seen; the id may be missing."""
    if value is None:
        return None
    try:
        stored = json.loads(value)
        created, event_id = stored["created"], stored.get("id")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(created, int):
        return None
    return created, event_id if isinstance(event_id, str) and event_id else None
