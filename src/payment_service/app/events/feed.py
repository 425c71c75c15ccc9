"""The live side of WatchEvents: one tail of the outbox per process, fanned out.

The tail follows the outbox in position order up to its horizon (``OutboxReader``), one
read per wake-up for every stream (a commit in this process, PostgreSQL's NOTIFY from
another, or the poll interval), and offers each batch to every subscription. A
subscription keeps what matches in a bounded queue: the tail never waits for a consumer,
so a slow one stalls neither writers nor other streams. When its queue is full it is
cut (``overflowed``), and its stream ends telling the caller where to resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from payment_service.app.common.tasks import cancelled
from payment_service.app.common.waiters import Waiter, wait_to_be_woken, woken
from payment_service.app.ports.outbox import EventQuery, OutboxEvent, OutboxReader, Wakeup

_log = logging.getLogger(__name__)
READ_BATCH = 500
SETTLE_S = 0.02  # re-read this soon while the horizon waits on transactions in flight


def matches(event: OutboxEvent, account_id: str | None, types: Collection[str]) -> bool:
    """Whether ``event`` passes a stream's filters (types: exact, ``kind.*`` or ``kind``)."""
    if account_id is not None and event.account_id != account_id:
        return False
    if not types:
        return True
    return event.type in types or any(
        t in (event.object_type, f"{event.object_type}.*") for t in types
    )


@dataclass(eq=False)
class Subscription:
    """One stream's share of the tail: the matching events past ``start``, bounded."""

    account_id: str | None
    types: frozenset[str]
    start: int  # the tail's position when subscribed: the stream catches up to it itself
    capacity: int
    queue: asyncio.Queue[OutboxEvent] = field(init=False)
    seen: int = field(init=False)  # every event up to here was matched and queued, or not
    overflowed: bool = False
    closed: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.capacity)
        self.seen = self.start

    def offer(self, batch: Sequence[OutboxEvent]) -> None:
        if self.overflowed or self.closed:
            return
        for event in batch:
            if event.position <= self.seen:
                continue
            if matches(event, self.account_id, self.types):
                if self.queue.full():
                    self.overflowed = True
                    break
                self.queue.put_nowait(event)
            self.seen = event.position
        self.changed.set()

    def close(self) -> None:
        self.closed = True
        self.changed.set()


class OutboxTail:
    """Follows the outbox for every stream of this process (started on first use)."""

    def __init__(self, reader: OutboxReader, wakeup: Wakeup, *, poll_s: float) -> None:
        self._reader = reader
        self._wakeup = wakeup
        self._poll_s = poll_s
        self._subscriptions: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self.position = 0

    async def subscribe(
        self, account_id: str | None, types: Collection[str], capacity: int
    ) -> Subscription:
        await self._ensure_started()
        sub = Subscription(account_id, frozenset(types), self.position, capacity)
        self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)

    def close_all(self) -> None:
        """End every stream (the shutdown's drain is over)."""
        for sub in tuple(self._subscriptions):
            sub.close()

    async def stop(self) -> None:
        self.close_all()
        task, self._task = self._task, None
        await cancelled(task)

    async def _ensure_started(self) -> None:
        if self._task is None or self._task.done():
            self._started.clear()
            self._task = asyncio.ensure_future(self._run())
        await self._started.wait()

    async def _run(self) -> None:
        self.position = await self._reader.horizon()
        self._started.set()
        while True:
            try:
                settling = await self._advance()
            except Exception:  # the database away: the streams wait, the tail retries
                _log.warning("event tail read failed; retrying", exc_info=True)
                settling = False
            await self._wakeup.wait(SETTLE_S if settling else self._poll_s)

    async def _advance(self) -> bool:
        """Read and offer everything up to the horizon; True while it waits to settle."""
        horizon = await self._reader.horizon()
        while self.position < horizon:
            batch = await self._reader.read(
                EventQuery(after=self.position, up_to=horizon, limit=READ_BATCH)
            )
            if not batch:
                self.position = horizon
                break
            for sub in tuple(self._subscriptions):
                sub.offer(batch)
            self.position = batch[-1].position
        for sub in tuple(self._subscriptions):
            if sub.seen < self.position and not sub.overflowed:
                sub.seen = self.position
        return bool(getattr(self._reader, "settling", False))


class LocalWakeup:
    """The in-process wake-up of one tail: ``fire`` (after a commit that wrote events, or
    PostgreSQL's NOTIFY) ends the pending ``wait``; a fire while the tail is reading is
    kept, so the next ``wait`` returns at once (no wake-up is lost)."""

    def __init__(self) -> None:
        self._waiters: set[Waiter] = set()
        self._fired = False

    def fire(self) -> None:
        self._fired = True
        for waiter in tuple(self._waiters):
            loop = waiter.get_loop()
            with contextlib.suppress(RuntimeError):  # its loop closed (a finished test)
                loop.call_soon_threadsafe(woken, waiter)

    async def wait(self, timeout_s: float) -> None:
        if not self._fired:
            await wait_to_be_woken(self._waiters.add, self._waiters.discard, timeout_s)
        self._fired = False
