"""ListEvents and WatchEvents: the outbox's events, filtered, for one caller.

A stream first catches up from the outbox (pages read straight from the table, from
the caller's cursor to where the tail was when the stream subscribed), then takes the
tail's live events from its bounded queue; the two meet without a gap or a repeat (the
subscription starts at the tail's position); with ``PAYMENT_NATS_URL`` set, both come
from JetStream instead (``remote.py``), with the same cursors. When nothing matched for ``heartbeat_s``
the stream sends a heartbeat with the cursor it is at. Delivery is at least once: a
caller resumes with the last cursor it received, and dedupes by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from typing import TypeVar

from payment_service.app.events.cursors import (
    decode_cursor,
    decode_page_token,
    encode_cursor,
    encode_page_token,
)
from payment_service.app.events.feed import OutboxTail, Subscription
from payment_service.app.events.kinds import KIND_BY_OBJECT
from payment_service.app.events.remote import FeedWatch, StreamClosing, read_between
from payment_service.app.ports.outbox import EventQuery, OutboxEvent, OutboxReader
from payment_service.domain.caller import Caller
from payment_service.domain.errors import InvalidArgument, ResourceExhausted, Unavailable
from payment_service.domain.pagination import PageRequest

MAX_TYPES = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFilter:
    account_id: str | None = None
    types: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[OutboxEvent]
    next_page_token: str
    cursor: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    cursor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedRules:
    heartbeat_s: float = 15.0
    buffer: int = 1000  # events a stream may hold for a slow consumer before it is cut
    poll_s: float = 1.0  # the tail reads at least this often without a wake-up


def event_filter(caller: Caller, account_id: str, types: Collection[str]) -> EventFilter:
    """The filters of a request; INVALID_ARGUMENT naming the field, NOT_FOUND for an
    account the token may not see (as everywhere else)."""
    if len(types) > MAX_TYPES:
        raise InvalidArgument.field("types", f"at most {MAX_TYPES} types")
    for index, name in enumerate(types):
        kind, _, what = name.partition(".")
        if kind not in KIND_BY_OBJECT or (name.count(".") > 1) or (_ and not what):
            raise InvalidArgument.field(
                f"types[{index}]",
                "must be <object>.<event>, <object>.* or <object>, with object one of "
                + ", ".join(sorted(KIND_BY_OBJECT)),
            )
    if account_id:
        caller.require_account(account_id)
    return EventFilter(account_id=account_id or caller.account_id, types=frozenset(types))


class Events:
    def __init__(
        self,
        reader: OutboxReader,
        tail: OutboxTail,
        rules: FeedRules,
        remote: FeedWatch | None = None,
    ) -> None:
        self._reader = reader
        self._tail = tail
        self.rules = rules
        self._remote = remote  # set: WatchEvents streams from it (JetStream), not the tail

    def stream_from(self, remote: FeedWatch | None) -> None:
        """Serve WatchEvents from ``remote`` (the composition root, once NATS connected)."""
        self._remote = remote

    async def list_events(
        self, filters: EventFilter, after_cursor: str, page: PageRequest
    ) -> EventPage:
        after = decode_cursor(after_cursor)
        if page.page_token:
            after = decode_page_token(page.page_token, filters.account_id, filters.types)
        query = EventQuery(
            after=after,
            account_id=filters.account_id,
            types=filters.types,
            limit=page.size + 1,
            up_to=await self._reader.horizon(),
        )
        rows = await self._reader.read(query)
        events, more = rows[: page.size], len(rows) > page.size
        last = events[-1].position if events else after
        token = encode_page_token(last, filters.account_id, filters.types) if more else ""
        return EventPage(events, token, encode_cursor(last) if events else after_cursor)

    async def watch(
        self, filters: EventFilter, after_cursor: str, *, from_now: bool = False
    ) -> AsyncIterator[OutboxEvent | Heartbeat]:
        """Every matching event after the cursor, then live ones, with heartbeats."""
        if from_now and after_cursor:
            raise InvalidArgument.field("from_now", "set from_now or after_cursor, not both")
        after = decode_cursor(after_cursor)
        if self._remote is not None:
            async for item in self._watch_remote(self._remote, filters, after, from_now):
                yield item
            return
        sub = await self._subscribe(filters)
        try:
            if from_now:
                after = sub.start
            while True:
                async for event in read_between(
                    self._reader, filters.account_id, filters.types, after, sub.start
                ):
                    after = event.position
                    yield event
                if not sub.overflowed:
                    break
                # What came live while it caught up overflowed: catch up again, further.
                self._tail.unsubscribe(sub)
                sub = await self._subscribe(filters)
            async for item in self._live(sub, max(after, sub.start)):
                yield item
        finally:
            self._tail.unsubscribe(sub)

    async def _watch_remote(
        self, remote: FeedWatch, filters: EventFilter, after: int, from_now: bool
    ) -> AsyncIterator[OutboxEvent | Heartbeat]:
        if from_now:
            after = await remote.start_position()
        try:
            async for item in remote.watch(filters.account_id, filters.types, after):
                if isinstance(item, str):
                    yield Heartbeat(item)
                else:
                    yield item
        except StreamClosing as closing:
            if closing.unavailable:
                raise _feed_failed(closing.after) from closing.__cause__
            raise _closing(closing.after) from None

    async def _subscribe(self, filters: EventFilter) -> Subscription:
        return await self._tail.subscribe(filters.account_id, filters.types, self.rules.buffer)

    async def _live(self, sub: Subscription, after: int) -> AsyncIterator[OutboxEvent | Heartbeat]:
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while True:
            if not sub.queue.empty():
                event = sub.queue.get_nowait()
                if event.position > after:
                    after, quiet_since = event.position, loop.time()
                    yield event
                continue
            if sub.overflowed:
                raise _behind(after)
            if sub.closed:
                raise _closing(after)
            wait_s = quiet_since + self.rules.heartbeat_s - loop.time()
            if wait_s <= 0:
                after, quiet_since = max(after, sub.seen), loop.time()
                yield Heartbeat(encode_cursor(after))
                continue
            sub.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sub.changed.wait(), wait_s)


def _behind(after: int) -> ResourceExhausted:
    return _resume_error(
        ResourceExhausted, "the stream fell too far behind", after, 0.0, "EVENT_STREAM_BEHIND"
    )


def _feed_failed(after: int) -> Unavailable:
    # The same reason as a drain for the caller: resume from the cursor.
    return _resume_error(
        Unavailable, "the event stream is unavailable", after, 1.0, "EVENT_STREAM_CLOSED"
    )


def _closing(after: int) -> Unavailable:
    return _resume_error(
        Unavailable, "the server is shutting down", after, 0.0, "EVENT_STREAM_CLOSED"
    )


_Resumable = TypeVar("_Resumable", ResourceExhausted, Unavailable)


def _resume_error(
    kind: type[_Resumable], what: str, after: int, retry_s: float, reason: str
) -> _Resumable:
    """The stream ends at ``after``: the message and ``resume_cursor`` say where to resume."""
    cursor = encode_cursor(after)
    error = kind(
        f"{what}; call WatchEvents again with after_cursor={cursor}",
        reason=reason,
        retry_after_seconds=retry_s,
    )
    error.metadata["resume_cursor"] = cursor
    return error
