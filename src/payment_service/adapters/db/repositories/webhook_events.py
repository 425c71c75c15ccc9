"""Stripe webhook events: idempotent insert and a retry queue."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from payment_service.adapters.db.repositories._base import EntityRepository, state_in
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.tables import webhook_events
from payment_service.domain.entities import WebhookEvent
from payment_service.domain.pagination import Cursor, Page, PageRequest
from payment_service.domain.states import WebhookEventState

_DUE_STATES = [WebhookEventState.RECEIVED.value, WebhookEventState.FAILED.value]


def _by_receive_time(event: WebhookEvent) -> Cursor:
    return Cursor(event.receive_time, event.id)


class SqlWebhookEventRepository(EntityRepository[WebhookEvent]):
    """Events are never added twice (``insert_if_new``); an update keeps what Stripe sent."""

    table = webhook_events
    codec = RowCodec(WebhookEvent)
    stripe_id = "stripe_event_id"
    kept = ("id", "stripe_event_id", "receive_time", "payload")

    async def backlog(
        self, states: Collection[WebhookEventState]
    ) -> dict[WebhookEventState, tuple[int, datetime | None]]:
        """Per state: how many events, and the oldest receive time."""
        statement = (
            select(
                webhook_events.c.state,
                func.count().label("events"),
                func.min(webhook_events.c.receive_time).label("oldest"),
            )
            .where(webhook_events.c.state.in_([s.value for s in states]))
            .group_by(webhook_events.c.state)
        )
        found: dict[WebhookEventState, tuple[int, datetime | None]] = {}
        for row in await self._all(statement):
            found[WebhookEventState(row["state"])] = (int(row["events"]), row["oldest"])
        return found

    async def find_by_stripe_event_id(self, stripe_event_id: str) -> WebhookEvent | None:
        return await self.find_by_stripe_id(stripe_event_id)

    async def insert_if_new(self, event: WebhookEvent) -> bool:
        values = self.codec.row(event)
        if values["next_attempt_at"] is None and event.state is WebhookEventState.RECEIVED:
            values["next_attempt_at"] = event.receive_time
            event.next_attempt_at = event.receive_time
        insert: Any = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement = (
            insert(webhook_events)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["stripe_event_id"])
            .returning(webhook_events.c.id)
        )
        inserted = (await self._execute(statement)).first()
        return inserted is not None

    async def claim_due(self, now: datetime, limit: int) -> list[WebhookEvent]:
        c = webhook_events.c
        statement = (
            self._select(c.state.in_(_DUE_STATES), c.next_attempt_at <= now)
            .order_by(c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await self._many(statement)

    async def list_events(
        self, *, page: PageRequest, states: Collection[WebhookEventState] = ()
    ) -> Page[WebhookEvent]:
        filters = {"list": "webhook_events", "states": states}
        return await self._keyset_page(
            state_in(self.table, states),
            page,
            filters,
            self.codec.entity,
            _by_receive_time,
            time_column="receive_time",
        )
