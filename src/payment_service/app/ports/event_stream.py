"""The event stream's ports: the outbox as the relay reads it, its cursor, a feed to watch.

The outbox (written in the same transaction as each state change) is the truth;
a relay copies it, in position order, to an engine other replicas and other
teams read from (NATS JetStream at scale); ``OutboxEvent`` is the outbox's own row
(``app/ports/outbox.py``) and the outbox reader is the ``OutboxSource``; ``EventFeed`` is what ``WatchEvents``
streams from, whichever engine serves it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from payment_service.app.ports.outbox import OutboxEvent

__all__ = ["EventFeed", "FeedPositionExpired", "OutboxEvent", "OutboxSource", "RelayCursor"]


class FeedPositionExpired(Exception):
    """The feed no longer holds every event after the requested position (retention)."""

    def __init__(self, after_position: int, oldest_available_after: int) -> None:
        super().__init__(
            f"events after position {after_position} are no longer in the stream; "
            f"it holds those after {oldest_available_after}"
        )
        self.after_position = after_position
        self.oldest_available_after = oldest_available_after


class OutboxSource(Protocol):
    async def after(self, position: int, limit: int) -> list[OutboxEvent]:
        """Rows after ``position`` in position order, at most ``limit``, and only positions
        safe to read: none past a gap that a transaction still in flight may fill."""
        ...

    async def wait_for_new(self, timeout_s: float) -> None:
        """Return when new rows may be there, or after ``timeout_s``."""
        ...


class RelayCursor(Protocol):
    async def load(self) -> int:
        """The last position the engine acknowledged (0 before the first)."""
        ...

    async def save(self, position: int) -> None: ...


class EventFeed(Protocol):
    def stream(
        self, *, after_position: int, account_id: str | None, types: frozenset[str]
    ) -> AsyncIterator[OutboxEvent]:
        """Every matching event after ``after_position`` in position order, then new ones as
        they come; ``account_id`` None means every account, empty ``types`` every type.
        Raises FeedPositionExpired when events after the position were dropped."""
        ...
