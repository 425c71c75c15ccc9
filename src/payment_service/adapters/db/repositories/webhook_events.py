"""Stripe webhook events: idempotent (also many-row) insert and one queue of due events.

The queue hands out due events (new, failed, replayed) oldest first, but an event only
when no earlier event of the same Stripe object (``object_id``, ordered by Stripe's
``created`` then our time-ordered id) is still RECEIVED: per object, new events are
applied in order, while the events of other objects go past.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Insert, bindparam, case, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY

from payment_service.adapters.db.errors import translated_errors
from payment_service.adapters.db.repositories._base import (
    EntityRepository,
    state_in,
    statement_for,
)
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.tables import webhook_events
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import WebhookEvent
from payment_service.domain.pagination import Cursor, Page, PageRequest
from payment_service.domain.states import WebhookEventState

_DUE_STATES = [WebhookEventState.RECEIVED.value, WebhookEventState.FAILED.value]
CANDIDATES_PER_CLAIM = 4  # heads read per event claimed (see claim_due)


def _queue_heads_statement() -> Executable:
    """The ids of up to ``w_limit`` due events whose object has no earlier RECEIVED event,
    oldest due first (read without locks; ``_lock_due_statement`` claims them).

    The per-object check is one window over the RECEIVED and FAILED rows (how many
    RECEIVED rows of its object come up to each row), not a correlated NOT EXISTS:
    after a quiet spell the statistics say RECEIVED rows are rare, and with a burst of
    them the planner would then re-scan every waiting row for every candidate (2 s a
    claim at 2,000 waiting), where the window is one sort. Events without an object
    are each their own partition: nothing orders them.
    """
    c = webhook_events.c
    received = c.state == WebhookEventState.RECEIVED.value
    waiting_through = (
        func.count()
        .filter(received)
        .over(partition_by=func.coalesce(c.object_id, c.id), order_by=(c.created, c.id))
    )
    queue = (
        select(
            c.id,
            c.next_attempt_at,
            waiting_through.label("waiting_through"),
            case((received, 1), else_=0).label("waiting_itself"),
        )
        .where(c.state.in_(_DUE_STATES))
        .subquery("queue")
    )
    return (
        select(queue.c.id)
        .where(
            queue.c.waiting_through == queue.c.waiting_itself,  # none earlier waits
            queue.c.next_attempt_at <= bindparam("w_now"),
        )
        .order_by(queue.c.next_attempt_at)
        .limit(bindparam("w_limit"))
    )


def _lock_due_statement() -> Executable:
    """Up to ``w_limit`` rows of ``w_ids`` still due, oldest due first, locked (SKIP
    LOCKED: another applier's claim). By their ids, so the plan is a key look-up
    whatever the statistics say; the due conditions are checked again on each row's
    newest version once it is locked, so a row another applier leased since the read
    is left out."""
    c = webhook_events.c
    return (
        select(webhook_events)
        .where(
            c.id.in_(bindparam("w_ids", expanding=True)),
            c.state.in_(_DUE_STATES),
            c.next_attempt_at <= bindparam("w_now"),
        )
        .order_by(c.next_attempt_at)
        .limit(bindparam("w_limit"))
        .with_for_update(skip_locked=True)
    )


def _insert_unnest_statement() -> Executable:
    """INSERT … SELECT FROM unnest(one array per column) WHERE NOT EXISTS (stored) ON
    CONFLICT DO NOTHING: PostgreSQL's many-row insert whose text stays the same whatever
    the batch size. A multi-row VALUES list has a text and parameters per size, which
    psycopg parses again on every execution (it caches statements of at most 50
    parameters): the larger part of a batch's cost. Each array goes through its column
    type's bind processing (the payload is sealed, times are checked aware) element by
    element."""
    columns = list(webhook_events.c)
    names = [column.name for column in columns]
    arrays = [bindparam(f"w_{column.name}", type_=ARRAY(column.type)) for column in columns]
    batch = func.unnest(*arrays).table_valued(*names).render_derived()
    stored = webhook_events.alias("stored")
    known = exists().where(stored.c.stripe_event_id == batch.c.stripe_event_id)
    return (
        postgresql.insert(webhook_events)
        .from_select(names, select(batch).where(~known))
        .on_conflict_do_nothing(index_elements=["stripe_event_id"])
        .returning(webhook_events.c.stripe_event_id)
    )


def _as_arrays(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    return {f"w_{column.name}": [row[column.name] for row in rows] for column in webhook_events.c}


def _by_receive_time(event: WebhookEvent) -> Cursor:
    return Cursor(event.receive_time, event.id)


class SqlWebhookEventRepository(EntityRepository[WebhookEvent]):
    """Events are never added twice (``insert_if_new``); an update keeps what Stripe sent."""

    table = webhook_events
    codec = RowCodec(WebhookEvent)
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

    def _values(self, event: WebhookEvent) -> dict[str, Any]:
        values = self.codec.row(event)
        if values["next_attempt_at"] is None and event.state is WebhookEventState.RECEIVED:
            values["next_attempt_at"] = event.receive_time
            event.next_attempt_at = event.receive_time
        return values

    def _insert_new(self) -> Insert:
        insert: Any = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement: Insert = insert(webhook_events).on_conflict_do_nothing(
            index_elements=["stripe_event_id"]
        )
        return statement

    async def insert_if_new(self, event: WebhookEvent) -> bool:
        statement = self._insert_new().values(**self._values(event))
        inserted = (await self._execute(statement.returning(webhook_events.c.id))).first()
        return inserted is not None

    async def insert_many_if_new(self, events: Sequence[WebhookEvent]) -> set[str]:
        """Insert the events not stored yet in one statement; return the Stripe event ids
        actually inserted.

        On PostgreSQL the ids already stored are left out by the insert's own NOT EXISTS:
        an event an applier is updating has an uncommitted index entry, and inserting its
        id again would wait for that applier's transaction (the whole batch with it),
        while the read sees the committed row at once. SQLite has one writer at a time,
        so nothing is in flight to wait for. ON CONFLICT DO NOTHING settles two
        deliveries of a new event that race (the second waits only for the first's
        short insert)."""
        if not events:
            return set()
        rows = [self._values(event) for event in events]
        if self._dialect == "postgresql":  # one array a column: one statement text
            statement = statement_for(("insert_unnest", self.table), _insert_unnest_statement)
            result = await self._execute(statement, _as_arrays(rows))
        else:
            statement = self._insert_new().returning(webhook_events.c.stripe_event_id)
            with translated_errors():
                result = await self._connection.execute(statement, rows)
        return {row[0] for row in result.all()}

    async def claim_due(self, now: datetime, limit: int) -> list[WebhookEvent]:
        # Built once (statement_for): building them per pass showed in the appliers' profile.
        heads = statement_for(("queue_heads", self.table), _queue_heads_statement)
        # The read takes no locks, so appliers claiming at once read the same heads: each
        # reads CANDIDATES_PER_CLAIM times its batch and locks the first free ones.
        read = {"w_now": now, "w_limit": limit * CANDIDATES_PER_CLAIM}
        ids = [row[0] for row in await self._execute(heads, read)]
        if not ids:
            return []
        lock = statement_for(("lock_due", self.table), _lock_due_statement)
        result = await self._execute(lock, {"w_ids": ids, "w_now": now, "w_limit": limit})
        return [self.codec.entity(row) for row in result.mappings().all()]

    async def get_many_for_update(self, ids: Collection[str]) -> list[WebhookEvent]:
        """The rows, locked until the transaction ends, in id order (one statement)."""
        statement = (
            self._select(webhook_events.c.id.in_(list(ids)))
            .order_by(webhook_events.c.id)
            .with_for_update()
        )
        return await self._many(statement)

    async def update_many(self, events: Sequence[WebhookEvent]) -> None:
        """``update`` of each event in one executemany (psycopg pipelines it); the rows
        are this transaction's locked ones, so none is gone (the table has no outbox)."""
        if len(events) <= 1:
            for event in events:
                await self.update(event)
            return

        def build() -> Executable:
            return self.table.update().where(self.table.c.id == bindparam("w_id"))

        statement = statement_for(("update_by_id", self.table), build)
        now = utcnow()
        rows = []
        for event in events:
            event.update_time = now
            rows.append({**self.codec.row(event, skip=self.kept), "w_id": event.id})
        with translated_errors():
            await self._connection.execute(statement, rows)

    async def lease(self, ids: Collection[str], until: datetime) -> None:
        statement = (
            webhook_events.update()
            .where(webhook_events.c.id.in_(list(ids)))
            .values(next_attempt_at=until, update_time=utcnow())
        )
        await self._execute(statement)

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
