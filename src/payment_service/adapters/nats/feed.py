"""``EventFeed`` over JetStream: what ``WatchEvents`` streams from on any replica.

A watcher gets an ordered ephemeral consumer (no acks, flow control, heartbeats;
the client recreates it from the last delivered sequence after a gap or a
reconnect) that starts at the first message after the caller's position (found
by binary search, see stream.py) and is filtered by subject for the account and
types. Memory per watcher is bounded by ``pending_msgs_limit``: a watcher that
reads too slowly has messages dropped by the client and the ordered consumer
re-delivers from where it stood, so writers and other watchers never wait for it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from payment_service.adapters.nats.messages import MalformedEventMessage, from_message
from payment_service.adapters.nats.stream import StreamSettings, find_start
from payment_service.adapters.nats.subjects import filter_subject
from payment_service.app.ports.event_stream import FeedPositionExpired, OutboxEvent

log = logging.getLogger(__name__)


class JetStreamEventFeed:
    """Implements app.ports.event_stream.EventFeed."""

    def __init__(
        self,
        js: JetStreamContext,
        settings: StreamSettings,
        *,
        idle_heartbeat_s: float = 5.0,
        pending_msgs_limit: int = 4096,
        poll_s: float = 1.0,
    ) -> None:
        self._js = js
        self._settings = settings
        self._idle_heartbeat_s = idle_heartbeat_s
        self._pending_msgs_limit = pending_msgs_limit
        self._poll_s = poll_s

    async def stream(
        self, *, after_position: int, account_id: str | None, types: frozenset[str]
    ) -> AsyncGenerator[OutboxEvent, None]:
        start = await find_start(self._js, self._settings, after_position)
        if start.oldest_prev_position is not None and after_position < start.oldest_prev_position:
            raise FeedPositionExpired(after_position, start.oldest_prev_position)
        subject = filter_subject(self._settings.subject_prefix, account_id, types)
        subscription = await self._js.subscribe(
            subject,
            stream=self._settings.name,
            ordered_consumer=True,
            idle_heartbeat=self._idle_heartbeat_s,
            pending_msgs_limit=self._pending_msgs_limit,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start.sequence
            ),
        )
        last = after_position
        try:
            while True:
                try:
                    msg = await subscription.next_msg(timeout=self._poll_s)
                except NatsTimeoutError:
                    continue
                try:
                    event = from_message(msg.headers, msg.data)
                except MalformedEventMessage as exc:
                    log.warning("skipped a message on %s: %s", msg.subject, exc)
                    continue
                if event.position <= last or not _matches(event, account_id, types):
                    continue
                last = event.position
                yield event
        finally:
            await subscription.unsubscribe()


def _matches(event: OutboxEvent, account_id: str | None, types: frozenset[str]) -> bool:
    if account_id is not None and event.account_id != account_id:
        return False
    return not types or event.type in types
