"""``EventFeed`` over JetStream: what ``WatchEvents`` streams from on any replica.

A watcher gets an ephemeral pull consumer (no acks, in memory, removed by the
server once idle; pulled with long-polled batch requests of our own, as
nats-py's ``fetch`` left requests waiting on nats-server 2.9 that never
delivered) that starts at the first message after the caller's position
(found by binary search, see stream.py) and is filtered by subject for the
account and types. The feed fetches the next batch only when its reader has
taken the previous one, so a slow reader holds at most one batch in memory and
costs the server a cursor, never a buffer: writers and other watchers never wait
for it. Delivery is checked to be gapless (the consumer's own sequence counts
every message it sent); after a gap, a reconnect or a lost consumer, the feed
opens a new consumer right after the last message it yielded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, Awaitable
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import Error as JetStreamError
from nats.js.errors import NotFoundError

from payment_service.adapters.nats.messages import MalformedEventMessage, from_message
from payment_service.adapters.nats.stream import StreamSettings, find_start
from payment_service.adapters.nats.subjects import filter_subject
from payment_service.app.events.feed import matches
from payment_service.app.ports.event_stream import FeedPositionExpired, OutboxEvent

log = logging.getLogger(__name__)
_REOPEN_MIN_S = 0.05
_REOPEN_MAX_S = 2.0


class _Reopen(Exception):
    """The consumer lost track (gap, reconnect, deleted): open one after the last message."""


@dataclass(frozen=True, slots=True)
class FeedPolling:
    """How a watcher's consumer is pulled: ``batch`` messages a request, long-polled for
    ``poll_s``; the server drops a consumer idle for ``inactive_threshold_s``."""

    batch: int = 256
    poll_s: float = 5.0
    inactive_threshold_s: float = 30.0
    api_prefix: str = "$JS.API"


class JetStreamEventFeed:
    """Implements app.ports.event_stream.EventFeed."""

    def __init__(
        self,
        client: Client,
        js: JetStreamContext,
        settings: StreamSettings,
        polling: FeedPolling = FeedPolling(),
    ) -> None:
        self._client = client
        self._js = js
        self._settings = settings
        self._polling = polling

    async def stream(
        self, *, after_position: int, account_id: str | None, types: frozenset[str]
    ) -> AsyncGenerator[OutboxEvent, None]:
        start = await find_start(self._js, self._settings, after_position)
        if start.oldest_prev_position is not None and after_position < start.oldest_prev_position:
            raise FeedPositionExpired(after_position, start.oldest_prev_position)
        subject = filter_subject(self._settings.subject_prefix, account_id, types)
        next_seq, last_position = start.sequence, after_position
        pause = _REOPEN_MIN_S
        while True:
            try:
                async for msg in self._deliveries(subject, next_seq):
                    pause = _REOPEN_MIN_S
                    next_seq = msg.metadata.sequence.stream + 1
                    event = _event(msg)
                    if event is None or event.position <= last_position:
                        continue
                    if not matches(event, account_id, types):
                        continue
                    last_position = event.position
                    yield event
            except _Reopen as why:
                log.info("event feed reopens its consumer at sequence %d: %s", next_seq, why)
                await asyncio.sleep(pause)  # NATS away: do not spin
                pause = min(pause * 2, _REOPEN_MAX_S)

    async def _deliveries(self, subject: str, start_seq: int) -> AsyncGenerator[Msg, None]:
        """Messages from one consumer in order; raises _Reopen when it can no longer serve."""
        config = ConsumerConfig(
            name=self._client.new_inbox().rpartition(".")[2],
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start_seq,
            filter_subject=subject,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=self._polling.inactive_threshold_s,
            mem_storage=True,
            num_replicas=1,
        )
        deliveries: asyncio.Queue[Msg] = asyncio.Queue()

        async def deliver(msg: Msg) -> None:
            deliveries.put_nowait(msg)  # at most one batch: one pull request at a time

        try:
            consumer = (await self._js.add_consumer(self._settings.name, config)).name
            inbox = self._client.new_inbox()
            subscription = await self._client.subscribe(inbox, cb=deliver)
        except (NatsError, JetStreamError) as exc:
            raise _Reopen(repr(exc)) from exc
        try:
            async for msg in self._pull(consumer, inbox, deliveries):
                yield msg
        finally:
            await _quietly(subscription.unsubscribe())
            await _quietly(self._js.delete_consumer(self._settings.name, consumer))

    async def _pull(
        self, consumer: str, inbox: str, deliveries: asyncio.Queue[Msg]
    ) -> AsyncGenerator[Msg, None]:
        """One pull request at a time (a batch, long-polled): the reader sets the pace."""
        polling = self._polling
        next_subject = f"{polling.api_prefix}.CONSUMER.MSG.NEXT.{self._settings.name}.{consumer}"
        expires_ns = int(polling.poll_s * 1e9)
        request = json.dumps({"batch": polling.batch, "expires": expires_ns}).encode()
        owed, delivered, deadline = 0, 0, 0.0
        while True:
            if owed == 0:
                await self._client.publish(next_subject, request, reply=inbox)
                _unless_cancelled()
                owed, deadline = polling.batch, time.monotonic() + polling.poll_s + 2.0
            try:
                # asyncio.timeout, not wait_for (3.11's wait_for can swallow a cancellation).
                async with asyncio.timeout(max(0.01, deadline - time.monotonic())):
                    msg = await deliveries.get()
            except TimeoutError:
                owed = 0  # no answer at all, not even "expired": is the consumer still there?
                await self._check(consumer)
                continue
            status = (msg.headers or {}).get("Status") if not msg.data else None
            if status is not None:
                if status in ("404", "408"):  # no messages now / the request expired
                    owed = 0
                    continue
                if status == "100":  # heartbeat
                    continue
                raise _Reopen(f"status {status} {(msg.headers or {}).get('Description', '')}")
            owed -= 1
            delivered += 1
            if msg.metadata.sequence.consumer != delivered:
                raise _Reopen(f"consumer sequence {msg.metadata.sequence.consumer}")
            yield msg

    async def _check(self, consumer: str) -> None:
        try:
            await self._js.consumer_info(self._settings.name, consumer)
            _unless_cancelled()
        except NotFoundError as exc:
            raise _Reopen("the consumer is gone") from exc
        except (NatsError, JetStreamError) as exc:
            raise _Reopen(repr(exc)) from exc


def _unless_cancelled() -> None:
    """Re-raise a cancellation that nats-py swallowed (its flush and wait_for calls can)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _quietly(action: Awaitable[object]) -> None:
    try:
        async with asyncio.timeout(1.0):
            await action
    except (NatsError, JetStreamError, TimeoutError):
        pass


def _event(msg: Msg) -> OutboxEvent | None:
    try:
        return from_message(msg.headers, msg.data)
    except MalformedEventMessage as exc:
        log.warning("skipped a message on %s: %s", msg.subject, exc)
        return None
