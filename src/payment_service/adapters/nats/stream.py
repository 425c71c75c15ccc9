"""The JetStream stream that holds the events, and how to find a position in it.

Along the stream, positions only increase: the relay publishes in outbox order and
every publish carries ``Nats-Expected-Last-Sequence``, so a message is appended only
right after the one its publisher saw last (a second relay, or a stale retry, is
refused instead of reordering). Positions may skip (outbox gaps), so stream
sequence and position differ; a position is found by binary search over sequences,
reading the ``Payments-Position`` header (a few lookups for millions of messages).
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from payment_service.adapters.nats.messages import position_of, prev_position_of
from payment_service.adapters.nats.subjects import all_events, validate_prefix


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """What the stream keeps, and where: the server drops the oldest messages past them."""

    storage: str = "file"  # or "memory"
    replicas: int = 1
    max_age_s: float = 7 * 86_400.0  # 0: kept forever
    max_bytes: int = 0  # 0: no limit
    duplicate_window_s: float = 120.0


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """The stream's name and subjects (what the relay and the feed address), and its limits."""

    name: str = "PAYMENT_EVENTS"
    subject_prefix: str = "payments.events"
    limits: StreamLimits = StreamLimits()

    def __post_init__(self) -> None:
        validate_prefix(self.subject_prefix)
        if not self.name or any(c in self.name for c in " .*>\t\r\n/\\"):
            raise ValueError(f"stream name {self.name!r}: no spaces, dots, * or >")

    def config(self) -> StreamConfig:
        limits = self.limits
        return StreamConfig(
            name=self.name,
            subjects=[all_events(self.subject_prefix)],
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            storage=StorageType.MEMORY if limits.storage == "memory" else StorageType.FILE,
            num_replicas=limits.replicas,
            max_age=limits.max_age_s or None,
            max_bytes=limits.max_bytes or -1,
            duplicate_window=limits.duplicate_window_s,
        )


@dataclass(frozen=True, slots=True)
class Tail:
    """The stream's last sequence and the last position it holds (None: no message)."""

    last_seq: int
    last_position: int | None


async def ensure_stream(js: JetStreamContext, settings: StreamSettings) -> None:
    """Create the stream, or bring an existing one's limits to the settings."""
    try:
        await js.stream_info(settings.name)
    except NotFoundError:
        await js.add_stream(settings.config())
        return
    await js.update_stream(settings.config())


async def read_tail(js: JetStreamContext, settings: StreamSettings) -> Tail:
    info = await js.stream_info(settings.name)
    last_seq = info.state.last_seq
    if info.state.messages == 0:
        return Tail(last_seq, None)
    last = await js.get_last_msg(settings.name, all_events(settings.subject_prefix))
    return Tail(last_seq, position_of(last.headers))


@dataclass(frozen=True, slots=True)
class Start:
    """Where a reader after a position begins: the first sequence to deliver."""

    sequence: int
    # The position published just before the oldest message kept (None: empty stream).
    oldest_prev_position: int | None


async def find_start(js: JetStreamContext, settings: StreamSettings, after_position: int) -> Start:
    info = await js.stream_info(settings.name)
    state = info.state
    if state.messages == 0:
        return Start(state.last_seq + 1, None)
    first = await _at_or_after(js, settings, state.first_seq)
    if first is None:
        return Start(state.last_seq + 1, None)
    first_seq, first_position, oldest_prev = first
    if first_position > after_position:
        return Start(first_seq, oldest_prev)
    lo, hi = first_seq, state.last_seq + 1  # the answer lies in (lo, hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        found = await _at_or_after(js, settings, mid)
        if found is None or found[1] > after_position:
            hi = mid  # nothing in [mid, found) so starting at mid is the same as at found
        else:
            lo = found[0]
    return Start(hi, oldest_prev)


async def _at_or_after(
    js: JetStreamContext, settings: StreamSettings, seq: int
) -> tuple[int, int, int] | None:
    """(sequence, position, prev position) of the first message at or after ``seq``."""
    try:
        msg = await js.get_msg(
            settings.name, seq=seq, subject=all_events(settings.subject_prefix), next=True
        )
    except NotFoundError:
        return None
    if msg.seq is None:
        return None
    return msg.seq, position_of(msg.headers), prev_position_of(msg.headers)
