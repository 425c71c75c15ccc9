"""WatchEvents over an external feed (JetStream, when ``PAYMENT_NATS_URL`` is set).

The relay copies the outbox to the feed in position order, so the feed's messages carry
outbox positions and a stream's cursor means the same on either engine: a caller may
resume on a NATS replica with a cursor an embedded one gave, and back. Catch-up and live
come from the feed alike (it starts right after the cursor); only when the feed's
retention already dropped events after the cursor are those read from the outbox table
first. The feed is pulled at the reader's pace (one batch in memory per stream, plus
``FeedRules.buffer`` events here), so a slow consumer stalls neither writers nor other
streams and is never cut for being slow: it resumes where it is. Heartbeats and the
shutdown's drain are as on the embedded engine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from payment_service.app.events.cursors import encode_cursor
from payment_service.app.ports.event_stream import EventFeed, FeedPositionExpired
from payment_service.app.ports.outbox import EventQuery, OutboxEvent, OutboxReader
from payment_service.domain.errors import DomainError

CATCH_UP_PAGE = 200
_END = object()


class FeedWatch:
    """The streams of this process over one feed; ``close_all`` ends them (drain over)."""

    def __init__(self, reader: OutboxReader, feed: EventFeed, *, heartbeat_s: float, buffer: int):
        self._reader = reader
        self._feed = feed
        self._heartbeat_s = heartbeat_s
        self._buffer = buffer
        self._closing = asyncio.Event()

    def close_all(self) -> None:
        self._closing.set()

    async def start_position(self) -> int:
        """Where a ``from_now`` stream starts: everything committed so far is behind it."""
        return await self._reader.horizon()

    async def watch(
        self, account_id: str | None, types: frozenset[str], after: int
    ) -> AsyncIterator[OutboxEvent | str]:
        """Events after ``after``, then live ones; a ``str`` item is a heartbeat's cursor.
        Raises ``StreamClosing`` (with the cursor) when the server drains."""
        queue: asyncio.Queue[OutboxEvent | BaseException | object] = asyncio.Queue(self._buffer)
        pump = asyncio.ensure_future(self._pump(queue, account_id, types, after))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            while True:
                item = await self._next(queue, closing)
                if item is None:
                    if self._closing.is_set():
                        raise StreamClosing(after)
                    yield encode_cursor(after)
                elif isinstance(item, OutboxEvent):
                    after = item.position
                    yield item
                elif isinstance(item, DomainError):
                    raise item
                elif isinstance(item, BaseException):
                    raise StreamClosing(after, unavailable=True) from item
                else:
                    return
        finally:
            for task in (pump, closing):
                task.cancel()
            for task in (pump, closing):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _next(
        self,
        queue: asyncio.Queue[OutboxEvent | BaseException | object],
        closing: asyncio.Future[Any],
    ) -> OutboxEvent | BaseException | object | None:
        """The next item, or None at a heartbeat's time or when the server drains."""
        if self._closing.is_set():
            return None
        getting = asyncio.ensure_future(queue.get())
        waiting: set[asyncio.Future[Any]] = {getting, closing}
        done, _ = await asyncio.wait(
            waiting, timeout=self._heartbeat_s, return_when=asyncio.FIRST_COMPLETED
        )
        if getting in done:
            return getting.result()
        getting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await getting
        if not getting.cancelled():  # it got one as it was cancelled
            return getting.result()
        return None

    async def _pump(
        self,
        queue: asyncio.Queue[OutboxEvent | BaseException | object],
        account_id: str | None,
        types: frozenset[str],
        after: int,
    ) -> None:
        try:
            async for event in self._events(account_id, types, after):
                await queue.put(event)  # full: the feed waits (it pulls at our pace)
            await queue.put(_END)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await queue.put(exc)

    async def _events(
        self, account_id: str | None, types: frozenset[str], after: int
    ) -> AsyncIterator[OutboxEvent]:
        while True:
            stream = self._feed.stream(after_position=after, account_id=account_id, types=types)
            try:
                first = await anext(aiter(stream))
            except FeedPositionExpired as expired:
                # Dropped by the feed's retention: the outbox still has them.
                async for event in read_between(
                    self._reader, account_id, types, after, expired.oldest_available_after
                ):
                    yield event
                after = max(after, expired.oldest_available_after)
                continue
            except StopAsyncIteration:
                return
            yield first
            async for event in stream:
                yield event
            return


async def read_between(
    reader: OutboxReader, account_id: str | None, types: frozenset[str], after: int, up_to: int
) -> AsyncIterator[OutboxEvent]:
    """The outbox's matching events after ``after`` up to ``up_to``, in position order, read
    a page at a time: a stream's catch-up, on either engine."""
    while after < up_to:
        query = EventQuery(
            after=after, account_id=account_id, types=types, limit=CATCH_UP_PAGE, up_to=up_to
        )
        rows = await reader.read(query)
        for event in rows:
            yield event
        if len(rows) < CATCH_UP_PAGE:
            return
        after = rows[-1].position


class StreamClosing(Exception):
    """The stream ends at ``after`` (the caller resumes from there): the server drains, or
    (``unavailable``) the feed failed (NATS away longer than the feed's reconnects)."""

    def __init__(self, after: int, *, unavailable: bool = False) -> None:
        super().__init__(f"stream closing at position {after}")
        self.after = after
        self.unavailable = unavailable
