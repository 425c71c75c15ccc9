"""The events feed wired: the outbox reader, the tail, its wake-ups, the snapshot encoder,
and at scale the JetStream relay and feed.

Embedded engine (``nats_url`` unset): the tail reads the outbox table; a commit in this
process wakes it at once (``on_outbox_commit``), a commit in another replica through
PostgreSQL's NOTIFY (``adapters/db/notify.py``, a wake-up only), and it polls every
``events_poll_s`` anyway.

JetStream (``nats_url`` set): every replica runs the relay as a background task (outbox
-> stream, in position order; the same reader, woken the same way), but only the one
holding the PostgreSQL advisory lock ``payment-service:outbox-relay`` publishes; the
others wait to take over when it dies. WatchEvents on every replica streams from the
JetStream feed (``app/events/remote.py``); ListEvents still pages the outbox table.
"""

from __future__ import annotations

import asyncio
import contextlib

from payment_service.adapters.db.advisory_lock import AdvisoryLock
from payment_service.adapters.db.notify import listen_for_events
from payment_service.adapters.db.repositories.outbox import (
    SqlOutboxReader,
    off_outbox_commit,
    on_outbox_commit,
    use_outbox,
)
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.nats.cursor import StoredRelayCursor
from payment_service.adapters.nats.factory import (
    RELAY_LOCK_NAME,
    NatsEventStream,
    connect_event_stream,
)
from payment_service.adapters.nats.relay import JetStreamRelay
from payment_service.api.grpc.event_servicer import encode_snapshot
from payment_service.app.common.tasks import cancelled
from payment_service.app.events.feed import LocalWakeup, OutboxTail
from payment_service.app.events.remote import FeedWatch
from payment_service.app.events.service import Events, FeedRules
from payment_service.app.ports.failpoints import Failpoints
from payment_service.config import Settings


class EventEngine:
    """A resource: at start the PostgreSQL wake-up listener (when on PostgreSQL) and, with
    NATS, the connection, the relay and the feed; at stop all of it ends, the relay saving
    its cursor, and this process's commits stop waking it."""

    def __init__(self, settings: Settings, uow_factory: SqlUnitOfWorkFactory) -> None:
        self.wakeup = LocalWakeup()
        self.reader = SqlOutboxReader(uow_factory.engine, self.wakeup)
        self.rules = FeedRules(
            heartbeat_s=settings.events_heartbeat_s,
            buffer=settings.events_stream_buffer,
            poll_s=settings.events_poll_s,
        )
        self.tail = OutboxTail(self.reader, self.wakeup, poll_s=self.rules.poll_s)
        self.events = Events(self.reader, self.tail, self.rules)
        self._settings = settings
        self._uow_factory = uow_factory
        self._url = settings.database_url
        self._dialect = uow_factory.engine.dialect.name
        self._stopping = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self.nats: NatsEventStream | None = None
        self.relay: JetStreamRelay | None = None
        self.remote: FeedWatch | None = None
        on_outbox_commit(self.wakeup.fire)

    async def start(self) -> None:
        if self._dialect == "postgresql" and self._listener is None:
            self._stopping.clear()
            self._listener = asyncio.ensure_future(
                listen_for_events(self._url, self.wakeup.fire, self._stopping)
            )
        if self._settings.nats_url is not None and self.nats is None:
            await self._start_nats()

    async def _start_nats(self) -> None:
        self.nats = await connect_event_stream(self._settings)
        assert self.nats is not None
        lock = AdvisoryLock(self._uow_factory.engine, RELAY_LOCK_NAME)
        self.relay = self.nats.relay(self.reader, StoredRelayCursor(self._uow_factory), lock=lock)
        self.relay.start()
        self.remote = FeedWatch(
            self.reader,
            self.nats.feed,
            heartbeat_s=self.rules.heartbeat_s,
            buffer=self.rules.buffer,
        )
        self.events.stream_from(self.remote)

    def close_streams(self) -> None:
        """End the open WatchEvents streams (the shutdown's drain is over)."""
        self.tail.close_all()
        if self.remote is not None:
            self.remote.close_all()

    async def stop(self) -> None:
        off_outbox_commit(self.wakeup.fire)
        self.close_streams()
        await self.tail.stop()
        if self.relay is not None:
            await self.relay.stop()
            self.relay = None
        if self.nats is not None:
            with contextlib.suppress(Exception):
                await self.nats.close()
            self.nats = None
        self._stopping.set()
        listener, self._listener = self._listener, None
        await cancelled(listener)


def install_outbox(failpoints: Failpoints) -> None:
    """The outbox writes each entity's API snapshot, and stops at the test failpoints."""
    use_outbox(encoder=encode_snapshot, failpoints=failpoints)
