"""The transactional outbox: an event row beside every state change, in its transaction.

Writing. ``EntityRepository.add``/``update`` hand each saved payment, refund, payment
method, subscription, invoice and dispute to ``EntityChanges``, which names the change
(``app/events/kinds.py``: the object as loaded in this unit of work against the object
as saved) and inserts one row per event with the object's snapshot as the API returns it
(the composition root's ``SnapshotEncoder``) and the active trace (``traceparent``). The
row is written on the change's own connection, after the change and before the commit
(on PostgreSQL it goes out with the COMMIT, in one pipeline: ``deferred.py``):
both commit or neither does (``outbox.before_write`` / ``outbox.after_write`` are the
failpoints between the writes). On PostgreSQL the insert's statement trigger (migration
0012) ``pg_notify``s the ``payment_events`` channel, which PostgreSQL delivers only at
commit and once per transaction; in process, ``outbox_committed`` wakes the readers once
the unit of work committed.

Reading, and why a position read is never skipped. Positions come from a sequence
(an identity), handed out at insert time, so on PostgreSQL two transactions can commit
their rows out of position order: position 6 may be visible while position 5, taken by
a transaction still running, is not yet. A reader that went past 6 would never see 5.
So readers read only up to a *horizon*, the newest position at or below which every
row is committed or never will be, found from the sequence and the snapshot of running
transactions (no lock, no extra write, no single sequencer):

1. read the sequence's last value L, then (a separate statement, so later) the set X of
   this database's transactions in progress (``pg_stat_activity.backend_xid``, read
   from the process array, in a transaction of its own: PostgreSQL keeps the first
   read of pg_stat_activity for the rest of a transaction);
2. every position <= L was handed to a transaction that already had its transaction id
   (the entity's row is always written before its event rows, and that write assigns
   it), so each such transaction is, at step 1's second statement, finished or in X;
3. once no transaction of X is still in progress (none of them is any backend's
   ``backend_xid`` any more), L is the horizon. With X empty that is at once; otherwise a later call confirms it (the
   oldest unconfirmed candidate is kept, so steady load never starves the horizon).

Transactions are short here (no Stripe call ever runs inside one), so the horizon trails
the newest commit by milliseconds. On SQLite a write transaction holds the database's
write lock from BEGIN IMMEDIATE to its commit, so positions commit in order and the
horizon is simply the largest position stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payment_service.adapters.db.deferred import defer
from payment_service.adapters.db.engine import SQLITE_BEGIN_MODE
from payment_service.adapters.db.errors import translated_errors
from payment_service.adapters.db.tables import event_outbox
from payment_service.app.common.trace_links import current_trace_parent
from payment_service.app.events.kinds import (
    DISPUTE,
    INVOICE,
    PAYMENT,
    PAYMENT_METHOD,
    REFUND,
    SUBSCRIPTION,
    EventKind,
    Preimage,
)
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.outbox import EventQuery, OutboxEvent, SnapshotEncoder, Wakeup
from payment_service.domain.clock import utcnow
from payment_service.domain.ids import new_id

NOTIFY_CHANNEL = "payment_events"
BEFORE_WRITE = "outbox.before_write"
AFTER_WRITE = "outbox.after_write"
_PENDING_WAKE = "outbox_wake"
_INSERT = event_outbox.insert()
_SETTLE_S = 0.02  # re-ask this soon while the horizon waits on a transaction in flight

KIND_BY_TABLE: dict[str, EventKind] = {
    "transactions": PAYMENT,
    "refunds": REFUND,
    "payment_methods": PAYMENT_METHOD,
    "subscriptions": SUBSCRIPTION,
    "invoices": INVOICE,
    "disputes": DISPUTE,
}


def _no_snapshot(entity: object) -> tuple[str, bytes] | None:
    return None


@dataclass(slots=True)
class OutboxSetup:
    """What the composition root installs once: the snapshot encoder, the failpoints,
    and who to tell after a commit that wrote events (the in-process wake-up)."""

    encoder: SnapshotEncoder = _no_snapshot
    failpoints: Failpoints = NO_FAILPOINTS
    on_commit: list[Callable[[], None]] = field(default_factory=list)


_SETUP = OutboxSetup()


def use_outbox(
    *, encoder: SnapshotEncoder | None = None, failpoints: Failpoints | None = None
) -> OutboxSetup:
    """Install the process's snapshot encoder (and failpoints); returns the setup."""
    if encoder is not None:
        _SETUP.encoder = encoder
    if failpoints is not None:
        _SETUP.failpoints = failpoints
    return _SETUP


def on_outbox_commit(callback: Callable[[], None]) -> None:
    """Call ``callback`` (no I/O, no await) after every commit that wrote events."""
    _SETUP.on_commit.append(callback)


def off_outbox_commit(callback: Callable[[], None]) -> None:
    if callback in _SETUP.on_commit:
        _SETUP.on_commit.remove(callback)


def outbox_committed(connection: AsyncConnection) -> None:
    """The unit of work committed on ``connection``: wake the readers if it wrote events."""
    if connection.info.pop(_PENDING_WAKE, False):
        for callback in tuple(_SETUP.on_commit):
            callback()


class EntityChanges:
    """One repository's objects as loaded in its unit of work, and the events of saving."""

    def __init__(self, connection: AsyncConnection, kind: EventKind) -> None:
        self._connection = connection
        self.kind = kind
        self._loaded: dict[str, Preimage] = {}

    def loaded(self, entity: Any) -> None:
        self._loaded[entity.id] = self.kind.preimage(entity)

    def knows(self, entity_id: str) -> bool:
        return entity_id in self._loaded

    def preimage(self, entity_id: str) -> Preimage | None:
        return self._loaded.get(entity_id)

    async def saved(self, before: Preimage | None, entity: Any, *, added: bool) -> None:
        """Write the events of the change just written (none when nothing callers see moved)."""
        types = self.kind.event_types(None if added else before, entity)
        self._loaded[entity.id] = self.kind.preimage(entity)
        if not types:
            return
        _SETUP.failpoints.hit(BEFORE_WRITE)
        await self._insert(types, entity)
        _SETUP.failpoints.hit(AFTER_WRITE)

    async def _insert(self, types: Sequence[str], entity: Any) -> None:
        snapshot_type, snapshot = _SETUP.encoder(entity) or ("", b"")
        now, trace_parent = utcnow(), current_trace_parent()
        rows = [
            {
                "event_id": new_id("evt"),
                "type": event_type,
                "object_type": self.kind.object_type,
                "object_id": entity.id,
                "account_id": entity.account_id,
                "snapshot_type": snapshot_type,
                "snapshot": snapshot,
                "trace_parent": trace_parent,
                "create_time": now,
            }
            for event_type in types
        ]
        connection = self._connection
        if not defer(connection, event_outbox, rows):
            with translated_errors():
                # One cached statement for any number of rows (executemany).
                await connection.execute(_INSERT, rows)
        self._connection.info[_PENDING_WAKE] = True


def changes_for(connection: AsyncConnection, table_name: str) -> EntityChanges | None:
    kind = KIND_BY_TABLE.get(table_name)
    return EntityChanges(connection, kind) if kind is not None else None


def _event(row: RowMapping) -> OutboxEvent:
    return OutboxEvent(
        position=row["position"],
        event_id=row["event_id"],
        type=row["type"],
        object_type=row["object_type"],
        object_id=row["object_id"],
        account_id=row["account_id"],
        snapshot_type=row["snapshot_type"],
        snapshot=row["snapshot"],
        trace_parent=row["trace_parent"],
        create_time=row["create_time"],
    )


_LAST_VALUE = text(
    "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM event_outbox_position_seq"
)
# Top-level transaction ids of this database's transactions in progress (xids are
# cluster-wide: other databases' transactions never hold this outbox's positions).
_IN_PROGRESS = text(
    "SELECT backend_xid::text FROM pg_stat_activity "
    "WHERE datname = current_database() AND backend_xid IS NOT NULL"
)
_STILL_RUNNING = text(
    "SELECT backend_xid::text FROM pg_stat_activity "
    "WHERE datname = current_database() AND backend_xid::text = ANY(CAST(:xids AS text[]))"
)


@dataclass(slots=True)
class _Candidate:
    position: int
    running: list[str]


class SqlOutboxReader:
    """The ``OutboxReader`` port over an engine (one short connection per call), and the
    relay's ``OutboxSource`` (``after`` reads up to the horizon; ``wait_for_new`` is the
    feed's wake-up): one reader of the outbox for every engine."""

    def __init__(self, engine: AsyncEngine, wakeup: Wakeup | None = None) -> None:
        self._engine = engine
        self._wakeup = wakeup
        self._safe = 0
        self._candidate: _Candidate | None = None

    @property
    def settling(self) -> bool:
        """A newer horizon waits on transactions in flight: ask again soon."""
        return self._candidate is not None

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only (on SQLite a deferred transaction: no write lock)."""
        with translated_errors():
            async with self._engine.connect() as connection:
                if connection.dialect.name == "sqlite":
                    await connection.execution_options(**{SQLITE_BEGIN_MODE: "DEFERRED"})
                yield connection
                await connection.rollback()

    async def horizon(self) -> int:
        async with self._reading() as connection:
            if connection.dialect.name != "postgresql":
                top = await connection.scalar(select(func.max(event_outbox.c.position)))
                return int(top or 0)
            return await self._postgres_horizon(connection)

    async def _postgres_horizon(self, connection: AsyncConnection) -> int:
        # Each statement in a transaction of its own: pg_stat_activity is read once per
        # transaction and then kept, and the set of transactions in progress must be
        # read after the sequence's last value.
        candidate = self._candidate
        if candidate is not None:
            result = await connection.execute(_STILL_RUNNING, {"xids": candidate.running})
            candidate.running = [row[0] for row in result]
            await connection.rollback()
            if not candidate.running:
                self._safe, self._candidate = max(self._safe, candidate.position), None
        last = int(await connection.scalar(_LAST_VALUE) or 0)
        await connection.rollback()
        running = [row[0] for row in await connection.execute(_IN_PROGRESS)]
        if not running:
            self._safe, self._candidate = max(self._safe, last), None
        elif self._candidate is None and last > self._safe:
            self._candidate = _Candidate(last, running)
        return self._safe

    async def read(self, query: EventQuery) -> list[OutboxEvent]:
        c = event_outbox.c
        where = [c.position > query.after]
        if query.up_to is not None:
            where.append(c.position <= query.up_to)
        if query.account_id is not None:
            where.append(c.account_id == query.account_id)
        if query.types:
            where.append(_type_filter(query.types))
        statement = select(event_outbox).where(*where).order_by(c.position).limit(query.limit)
        async with self._reading() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [_event(row) for row in rows]

    async def after(self, position: int, limit: int) -> list[OutboxEvent]:
        """``OutboxSource``: the rows after ``position`` up to the horizon, by position."""
        horizon = await self.horizon()
        if horizon <= position:
            return []
        return await self.read(EventQuery(after=position, up_to=horizon, limit=limit))

    async def wait_for_new(self, timeout_s: float) -> None:
        """``OutboxSource``: the next wake-up (a commit here, a NOTIFY), or the timeout;
        soon again while the horizon waits on transactions in flight."""
        if self.settling:
            timeout_s = min(timeout_s, _SETTLE_S)
        if self._wakeup is None:
            await asyncio.sleep(timeout_s)
        else:
            await self._wakeup.wait(timeout_s)


def _type_filter(types: Collection[str]) -> ColumnElement[bool]:
    """Exact types, and ``payment.*``-style prefixes (``payment`` alone means the same)."""
    c = event_outbox.c
    exact = [t for t in types if not t.endswith(".*") and "." in t]
    kinds = [t.removesuffix(".*") for t in types if t.endswith(".*") or "." not in t]
    clauses: list[ColumnElement[bool]] = []
    if exact:
        clauses.append(c.type.in_(exact))
    if kinds:
        clauses.append(c.object_type.in_(kinds))
    return or_(*clauses)
