"""The relay's cursor in the database and the advisory lock that keeps one relay busy."""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_service.adapters.db.advisory_lock import AdvisoryLock
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.nats.cursor import StoredRelayCursor
from payment_service.adapters.nats.factory import RELAY_LOCK_NAME
from payment_service.adapters.nats.relay import JetStreamRelay, RelayPacing
from payment_service.adapters.nats.stream import StreamSettings
from tests.integration.nats.support import MemoryOutbox


async def test_cursor_round_trips_in_the_database(uow_factory: SqlUnitOfWorkFactory) -> None:
    cursor = StoredRelayCursor(uow_factory)
    assert await cursor.load() == 0
    await cursor.save(41)
    await cursor.save(42)
    assert await StoredRelayCursor(uow_factory).load() == 42
    assert await StoredRelayCursor(uow_factory, key="another").load() == 0


async def test_relay_saves_and_resumes_from_the_stored_cursor(
    uow_factory: SqlUnitOfWorkFactory, js: JetStreamContext, stream_settings: StreamSettings
) -> None:
    outbox = MemoryOutbox()
    for _ in range(3):
        outbox.add()
    relay = JetStreamRelay(js._nc, js, stream_settings, outbox, StoredRelayCursor(uow_factory))
    while await relay.pump():
        pass
    await relay.save_cursor()
    assert await StoredRelayCursor(uow_factory).load() == 3


async def test_one_relay_works_while_another_holds_the_lock(
    engine: AsyncEngine,
    uow_factory: SqlUnitOfWorkFactory,
    js: JetStreamContext,
    stream_settings: StreamSettings,
) -> None:
    outbox, idle = MemoryOutbox(), MemoryOutbox()
    lock_name = f"{RELAY_LOCK_NAME}:{stream_settings.name}"
    busy = JetStreamRelay(
        js._nc,
        js,
        stream_settings,
        outbox,
        StoredRelayCursor(uow_factory),
        lock=AdvisoryLock(engine, lock_name),
        pacing=RelayPacing(idle_wait_s=0.1),
    )
    waiting = JetStreamRelay(
        js._nc,
        js,
        stream_settings,
        idle,
        StoredRelayCursor(uow_factory),
        lock=AdvisoryLock(engine, lock_name),
        pacing=RelayPacing(idle_wait_s=0.1, lock_hold_s=0.4),
    )
    busy.start()
    await asyncio.sleep(0.2)
    waiting.start()
    try:
        outbox.add()
        await asyncio.sleep(0.5)
        assert busy.published_position == 1
        if engine.dialect.name == "postgresql":
            assert idle.reads == 0  # never got the lock, so never read the outbox
    finally:
        await busy.stop()
        await waiting.stop()
