"""A read's refresh from Stripe: Stripe's current view, or what is stored when Stripe
cannot be read (the caller is answered either way); when a Get refreshes a row, and one
refresh of a row at a time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from payment_service.app.common.locks import KeyedLocks
from payment_service.domain.clock import utcnow
from payment_service.domain.entities.mirror import StripeMirror
from payment_service.domain.errors import DomainError

log = logging.getLogger(__name__)

T = TypeVar("T", bound=StripeMirror[Any])


async def refreshed_or_stored(row: T, refresh: Callable[[T], Awaitable[T]], kind: str) -> T:
    """``refresh(row)``, or the stored ``row`` when that raises (logged as a warning)."""
    try:
        return await refresh(row)
    except DomainError as error:
        log.warning(
            f"could not refresh {kind} from Stripe",
            extra={f"{kind}_id": row.id, "reason": error.reason},
        )
        return row


@dataclass
class GetRefreshes:
    """A Get re-reads a row from Stripe once the row has not been read for ``after_s``;
    concurrent Gets of one stale row queue behind one refresh in this process."""

    after_s: float
    _locks: KeyedLocks = field(default_factory=KeyedLocks, init=False, repr=False)

    def due(self, row: StripeMirror[Any]) -> bool:
        last = row.synced_at or row.update_time
        return utcnow() - last >= timedelta(seconds=self.after_s)

    @asynccontextmanager
    async def one_at_a_time(self, row_id: str) -> AsyncIterator[None]:
        async with self._locks.hold(("refresh", row_id)):
            yield
