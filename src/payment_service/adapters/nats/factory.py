"""Build the JetStream event stream from the settings (the composition root calls this).

``connect_event_stream(settings)`` connects (the client then reconnects forever),
makes sure the stream exists with the configured limits and hands back the feed
for ``WatchEvents`` and a way to build the relay over the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from payment_service.adapters.nats.feed import JetStreamEventFeed
from payment_service.adapters.nats.relay import JetStreamRelay, RelayPacing
from payment_service.adapters.nats.stream import StreamLimits, StreamSettings, ensure_stream
from payment_service.app.ports.event_stream import EventFeed, OutboxSource, RelayCursor
from payment_service.app.ports.reconcile import ReconcileLock
from payment_service.config import Settings

log = logging.getLogger(__name__)
RELAY_LOCK_NAME = "payment-service:outbox-relay"


@dataclass
class NatsEventStream:
    client: Client
    js: JetStreamContext
    stream: StreamSettings
    feed: EventFeed  # what WatchEvents streams from
    relay_pacing: RelayPacing

    def relay(
        self, source: OutboxSource, cursor: RelayCursor, *, lock: ReconcileLock | None = None
    ) -> JetStreamRelay:
        """The relay over the outbox; ``lock``: e.g. AdvisoryLock(engine, RELAY_LOCK_NAME)."""
        return JetStreamRelay(
            self.client, self.js, self.stream, source, cursor, lock=lock, pacing=self.relay_pacing
        )

    async def close(self) -> None:
        """Drain (what was published reaches the server); closed anyway when NATS is away."""
        if self.client.is_closed:
            return
        try:
            async with asyncio.timeout(5.0):
                await self.client.drain()
        except Exception:
            log.info("NATS drain failed at close; closing", exc_info=True)
        if not self.client.is_closed:
            await self.client.close()


def stream_settings(settings: Settings) -> StreamSettings:
    limits = StreamLimits(
        storage=settings.nats_stream_storage,
        replicas=settings.nats_stream_replicas,
        max_age_s=settings.nats_stream_max_age_s,
        max_bytes=settings.nats_stream_max_bytes,
        duplicate_window_s=settings.nats_duplicate_window_s,
    )
    return StreamSettings(settings.nats_stream, settings.nats_subject_prefix, limits)


async def connect_event_stream(
    settings: Settings, *, name: str = "payment-service"
) -> NatsEventStream | None:
    """None when ``nats_url`` is unset (events are served from the outbox)."""
    if settings.nats_url is None:
        return None
    url = settings.nats_url.get_secret_value()

    async def disconnected() -> None:
        log.warning("NATS disconnected; reconnecting")

    async def reconnected() -> None:
        log.info("NATS reconnected")

    async def error(exc: Exception) -> None:
        log.warning("NATS client error: %r", exc)

    client = await nats.connect(
        url,
        name=name,
        connect_timeout=settings.nats_connect_timeout_s,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
    )
    js = client.jetstream(timeout=settings.nats_publish_timeout_s)
    stream = stream_settings(settings)
    await ensure_stream(js, stream)
    return NatsEventStream(
        client=client,
        js=js,
        stream=stream,
        feed=JetStreamEventFeed(client, js, stream),
        relay_pacing=RelayPacing(
            batch_size=settings.nats_relay_batch_size,
            publish_timeout_s=settings.nats_publish_timeout_s,
        ),
    )
