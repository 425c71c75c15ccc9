"""Stripe webhook events: idempotent insert and a retry queue."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, select
from sqlalchemy.dialects import postgresql, sqlite

from payment_service.adapters.db.repositories._base import SqlRepository, entity_values, state_in
from payment_service.adapters.db.tables import webhook_events
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import WebhookEvent
from payment_service.domain.pagination import Cursor, Page, PageRequest
from payment_service.domain.states import WebhookEventState

_DUE_STATES = [WebhookEventState.RECEIVED.value, WebhookEventState.FAILED.value]


def _to_entity(row: RowMapping) -> WebhookEvent:
    return WebhookEvent(**{**row, "state": WebhookEventState(row["state"])})


def _by_receive_time(event: WebhookEvent) -> Cursor:
    return Cursor(event.receive_time, event.id)


class SqlWebhookEventRepository(SqlRepository):
    table = webhook_events

    async def get(self, event_id: str) -> WebhookEvent | None:
        row = await self._first(select(webhook_events).where(webhook_events.c.id == event_id))
        return _to_entity(row) if row else None

    async def get_for_update(self, event_id: str) -> WebhookEvent | None:
        """The event with its row locked (FOR UPDATE on PostgreSQL; SQLite's write
        transactions hold the database lock anyway)."""
        statement = select(webhook_events).where(webhook_events.c.id == event_id)
        row = await self._first(statement.with_for_update())
        return _to_entity(row) if row else None

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
        statement = select(webhook_events).where(
            webhook_events.c.stripe_event_id == stripe_event_id
        )
        row = await self._first(statement)
        return _to_entity(row) if row else None

    async def insert_if_new(self, event: WebhookEvent) -> bool:
        values = entity_values(event)
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
        statement = (
            select(webhook_events)
            .where(
                webhook_events.c.state.in_(_DUE_STATES),
                webhook_events.c.next_attempt_at <= now,
            )
            .order_by(webhook_events.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_to_entity(row) for row in await self._all(statement)]

    async def list_events(
        self, *, page: PageRequest, states: Collection[WebhookEventState] = ()
    ) -> Page[WebhookEvent]:
        filters = {"list": "webhook_events", "states": states}
        return await self._keyset_page(
            state_in(self.table, states),
            page,
            filters,
            _to_entity,
            _by_receive_time,
            time_column="receive_time",
        )

    async def update(self, event: WebhookEvent) -> None:
        event.update_time = utcnow()
        values = entity_values(event, skip=("id", "stripe_event_id", "receive_time", "payload"))
        await self._update_by_id(event.id, values)
