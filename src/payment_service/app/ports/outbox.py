"""What the events feed needs: the outbox's rows, read in position order, and a wake-up.

Every state change writes one outbox row in its own transaction (the storage adapter
does it beside the change, see ``adapters/db/repositories/outbox.py``); the feed reads
them back by position. ``position`` is global and increasing; a reader asks only up to
``horizon()``, the newest position below which no transaction can still commit a row, so
reading in position order never skips a row committed late.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxEvent:
    """One stored event: what changed, how the API shows it now, and where it came from."""

    position: int
    event_id: str
    type: str  # "payment.succeeded"
    object_type: str  # "payment"
    object_id: str
    account_id: str
    snapshot_type: str  # the snapshot's proto message, "payments.v1.Payment"
    snapshot: bytes  # that message, serialized
    trace_parent: str | None
    create_time: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class EventQuery:
    """Events after ``after`` (a position), oldest first, matching every filter given."""

    after: int = 0
    account_id: str | None = None
    types: Collection[str] = ()
    limit: int = 100
    up_to: int | None = None  # the highest position to read (a horizon); None: no bound


class OutboxReader(Protocol):
    async def horizon(self) -> int:
        """The newest position every row at or below which has committed (or never will)."""

    async def read(self, query: EventQuery) -> list[OutboxEvent]:
        """The matching rows after ``query.after`` up to ``query.up_to``, by position."""


class SnapshotEncoder(Protocol):
    """The composition root's mapping of an entity to its API message: ``(message full
    name, serialized message)``, or None for an entity that has no events."""

    def __call__(self, entity: object, /) -> tuple[str, bytes] | None: ...


class Wakeup(Protocol):
    """Something that resolves when new rows may have committed (a hint, never the data)."""

    async def wait(self, timeout_s: float) -> None:
        """Return at the next wake-up after the call, or after ``timeout_s``."""
