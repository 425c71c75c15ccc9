"""The events feed wired: the outbox reader, the tail, its wake-ups, the snapshot encoder.

Embedded engine: the tail reads the outbox table; a commit in this process wakes it at
once (``on_outbox_commit``), a commit in another replica through PostgreSQL's NOTIFY
(``adapters/db/notify.py``, a wake-up only), and it polls every ``events_poll_s`` anyway.
"""

from __future__ import annotations

import asyncio
import contextlib

from payment_service.adapters.db.notify import listen_for_events
from payment_service.adapters.db.repositories.outbox import (
    SqlOutboxReader,
    off_outbox_commit,
    on_outbox_commit,
    use_outbox,
)
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.api.grpc.event_servicer import encode_snapshot
from payment_service.app.events.feed import LocalWakeup, OutboxTail
from payment_service.app.events.service import Events, FeedRules
from payment_service.app.ports.failpoints import Failpoints
from payment_service.config import Settings


class EventEngine:
    """A resource: at start the PostgreSQL wake-up listener (when on PostgreSQL), at stop
    the tail and the listener end, and this process's commits stop waking it."""

    def __init__(self, settings: Settings, uow_factory: SqlUnitOfWorkFactory) -> None:
        self.wakeup = LocalWakeup()
        self.reader = SqlOutboxReader(uow_factory.engine)
        rules = FeedRules(
            heartbeat_s=settings.events_heartbeat_s,
            buffer=settings.events_stream_buffer,
            poll_s=settings.events_poll_s,
        )
        self.tail = OutboxTail(self.reader, self.wakeup, poll_s=rules.poll_s)
        self.events = Events(self.reader, self.tail, rules)
        self._url = settings.database_url
        self._dialect = uow_factory.engine.dialect.name
        self._stopping = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        on_outbox_commit(self.wakeup.fire)

    async def start(self) -> None:
        if self._dialect == "postgresql" and self._listener is None:
            self._stopping.clear()
            self._listener = asyncio.ensure_future(
                listen_for_events(self._url, self.wakeup.fire, self._stopping)
            )

    def close_streams(self) -> None:
        """End the open WatchEvents streams (the shutdown's drain is over)."""
        self.tail.close_all()

    async def stop(self) -> None:
        off_outbox_commit(self.wakeup.fire)
        await self.tail.stop()
        self._stopping.set()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None


def install_outbox(failpoints: Failpoints) -> None:
    """The outbox writes each entity's API snapshot, and stops at the test failpoints."""
    use_outbox(encoder=encode_snapshot, failpoints=failpoints)
