"""The relay: outbox rows to JetStream, exactly in outbox order, resumable, one at a time.

Each pass reads the rows after the last position the stream holds, publishes them
pipelined (one round trip per batch, not per event) and walks the PubAcks in order;
the cursor moves only over acknowledged rows and is saved at most once per
``cursor_save_interval_s`` (and when idle or stopping).

Order and duplicates, also with two relays or after a crash:

* every publish carries ``Nats-Expected-Last-Sequence`` (the sequence the relay
  saw last, plus its place in the batch): JetStream appends it only right after
  that message, so nothing is ever appended out of order or behind another
  relay's message; a refused publish makes the relay re-read the stream's tail;
* the resume point is the later of the saved cursor and the position of the
  stream's last message, so a crash between PubAck and cursor save republishes
  nothing; a publish that does repeat (a lost PubAck) carries ``Nats-Msg-Id`` =
  event id and JetStream drops it within the duplicate window;
* an optional ``ReconcileLock`` (the PostgreSQL advisory lock) keeps one relay
  busy across replicas; the two points above keep the stream right without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from payment_service.adapters.nats.messages import EXPECTED_LAST_SEQUENCE, to_message
from payment_service.adapters.nats.publisher import Ack, AckInbox, PublishRefused
from payment_service.adapters.nats.stream import StreamSettings, ensure_stream, read_tail
from payment_service.app.common.tasks import cancelled
from payment_service.app.ports.event_stream import OutboxEvent, OutboxSource, RelayCursor
from payment_service.app.ports.reconcile import ReconcileLock

log = logging.getLogger(__name__)


class OutOfStep(Exception):
    """The stream's tail is not where this relay thought (another publisher, a lost ack)."""


@dataclass(frozen=True, slots=True)
class RelayPacing:
    """Batches of ``batch_size`` rows, PubAcks awaited ``publish_timeout_s``; when idle it
    waits ``idle_wait_s`` for new rows; the cursor is saved at most once per
    ``cursor_save_interval_s``; a failed pass is retried after ``retry_s``, doubling up to
    ``max_retry_s``; with a lock, a turn holds it ``lock_hold_s``."""

    batch_size: int = 256
    publish_timeout_s: float = 5.0
    idle_wait_s: float = 1.0
    cursor_save_interval_s: float = 1.0
    retry_s: float = 0.5
    max_retry_s: float = 15.0
    lock_hold_s: float = 60.0


class JetStreamRelay:
    def __init__(
        self,
        client: Client,
        js: JetStreamContext,
        settings: StreamSettings,
        source: OutboxSource,
        cursor: RelayCursor,
        *,
        lock: ReconcileLock | None = None,
        pacing: RelayPacing = RelayPacing(),
    ) -> None:
        self._js = js
        self._inbox = AckInbox(client)
        self._settings = settings
        self._source = source
        self._cursor = cursor
        self._lock = lock
        self._pacing = pacing
        self._tail_seq: int | None = None  # None: read the stream's tail before publishing
        self._published = 0  # last position the stream acknowledged
        self._saved: int | None = None  # last position written to the cursor
        self._last_save = time.monotonic()
        self._stream_ready = False
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def published_position(self) -> int:
        return self._published

    async def pump(self) -> int:
        """One pass: publish the rows after the stream's tail; return how many it took."""
        if self._tail_seq is None:
            await self._resync()
        assert self._tail_seq is not None
        events = await self._source.after(self._published, self._pacing.batch_size)
        if not events:
            return 0
        sent = await self._publish(events, self._tail_seq)
        if time.monotonic() - self._last_save >= self._pacing.cursor_save_interval_s:
            await self.save_cursor()
        return sent

    async def save_cursor(self) -> None:
        """Write the last acknowledged position, when it moved."""
        if self._saved is not None and self._published > self._saved:
            await self._cursor.save(self._published)
            self._saved = self._published
        self._last_save = time.monotonic()

    async def _resync(self) -> None:
        if not self._stream_ready:
            await ensure_stream(self._js, self._settings)
            self._stream_ready = True
        if self._saved is None:
            self._saved = await self._cursor.load()
            self._published = max(self._published, self._saved)
        tail = await read_tail(self._js, self._settings)
        self._tail_seq = tail.last_seq
        # The stream's tail wins over an older cursor: those rows are in it already.
        self._published = max(self._saved, tail.last_position or 0)

    async def _publish(self, events: list[OutboxEvent], tail_seq: int) -> int:
        prefix = self._settings.subject_prefix
        pending: list[asyncio.Future[Ack]] = []
        prev = self._published
        try:
            for offset, event in enumerate(events):
                message = to_message(prefix, event, prev_position=prev)
                message.headers[EXPECTED_LAST_SEQUENCE] = str(tail_seq + offset)
                pending.append(
                    await self._inbox.publish(message.subject, message.payload, message.headers)
                )
                prev = event.position
            return await self._collect(events, pending)
        finally:
            for future in pending:
                future.cancel()  # no-op for the answered ones

    async def _collect(self, events: list[OutboxEvent], pending: list[asyncio.Future[Ack]]) -> int:
        deadline = time.monotonic() + self._pacing.publish_timeout_s
        for done, (event, future) in enumerate(zip(events, pending, strict=True)):
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    ack = await future  # (3.11's wait_for can swallow a cancellation)
            except (PublishRefused, NatsError, TimeoutError) as exc:
                self._tail_seq = None
                if done == 0:
                    raise OutOfStep(f"publish of position {event.position}: {exc!r}") from exc
                log.info("relay out of step after %d events: %r", done, exc)
                return done
            if ack.duplicate:
                # Already in the stream (a lost PubAck); nothing after it was appended.
                self._tail_seq = None
                self._published = max(self._published, event.position)
                return done
            self._tail_seq = ack.seq
            self._published = event.position
        return len(events)

    # --- the background task ------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        await cancelled(task)
        try:
            await self.save_cursor()
        except Exception:
            log.warning("relay cursor not saved on stop", exc_info=True)

    async def run(self) -> None:
        while not self._stopping.is_set():
            if self._lock is None:
                await self._run_held(None)
                continue
            async with self._lock.hold() as held:
                if held:
                    await self._run_held(time.monotonic() + self._pacing.lock_hold_s)
            if not held:
                await self._sleep(self._pacing.lock_hold_s / 4)

    async def _run_held(self, until: float | None) -> None:
        backoff = self._pacing.retry_s
        while not self._stopping.is_set() and (until is None or time.monotonic() < until):
            try:
                if await self.pump() == 0:
                    await self.save_cursor()
                    await self._source.wait_for_new(self._pacing.idle_wait_s)
                backoff = self._pacing.retry_s
            except OutOfStep as exc:
                log.info("relay re-reads the stream's tail: %s", exc)
                await self._sleep(self._pacing.retry_s / 10)
            except Exception as exc:
                if isinstance(exc, NotFoundError):
                    self._stream_ready = False
                self._tail_seq = None
                log.warning("relay pass failed, retrying in %.1fs: %r", backoff, exc)
                await self._sleep(backoff)
                backoff = min(backoff * 2, self._pacing.max_retry_s)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
