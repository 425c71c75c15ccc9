"""The Stripe-call lease: one caller at a time talks to Stripe for a row, across replicas.

A row that still needs its Stripe call (a PENDING payment, a refund not yet
sent) carries ``lease_until``. Whoever sets it (under the row lock) owns the
call until then; the lease expires, so a crashed holder never blocks the row.
Others poll until the row is settled or the lease is free, and give up with
UNAVAILABLE when their deadline would run out first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import KW_ONLY, dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from payment_service.app.common import request_context
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.clock import utcnow
from payment_service.domain.errors import DomainError, Unavailable, found, outcome_unknown

POLL_S = 0.05


class Leasable(Protocol):
    id: str
    lease_until: datetime | None


E = TypeVar("E", bound=Leasable)


class LeasedRows(Protocol[E]):
    async def get_for_update(self, row_id: str, /) -> E | None: ...
    async def update(self, row: E, /) -> None: ...


@dataclass
class StripeCallLease(Generic[E]):
    uow_factory: UnitOfWorkFactory
    rows: Callable[[UnitOfWork], LeasedRows[E]]
    _: KW_ONLY
    kind: str
    lease_s: float
    needs_call: Callable[[E], bool]
    busy_reason: str

    def new_lease(self) -> datetime:
        """``lease_until`` for a row inserted already holding its lease (one write fewer)."""
        return utcnow() + timedelta(seconds=self.lease_s)

    @staticmethod
    def held(row: Leasable) -> bool:
        """Someone is talking to Stripe for this row right now."""
        return row.lease_until is not None and row.lease_until > utcnow()

    async def claim(self, row_id: str) -> E:
        """Own the Stripe call for the row, or return it once it no longer needs one."""
        while True:
            async with self.uow_factory() as uow:
                rows = self.rows(uow)
                row = found(await rows.get_for_update(row_id), self.kind, row_id)
                if not self.needs_call(row):
                    return row
                if not self.held(row):
                    row.lease_until = self.new_lease()
                    await rows.update(row)
                    await uow.commit()
                    return row
            left = request_context.remaining()
            if left is not None and left < POLL_S * 2:
                raise Unavailable(
                    f"another request is sending this {self.kind} to Stripe; "
                    "retry with the same request_id",
                    reason=self.busy_reason,
                    retry_after_seconds=1.0,
                )
            await asyncio.sleep(POLL_S)

    async def release(self, row_id: str) -> None:
        """Give the call back (its outcome unknown): the next attempt may go at once."""
        async with self.uow_factory() as uow:
            rows = self.rows(uow)
            row = await rows.get_for_update(row_id)
            if row is not None and row.lease_until is not None:
                row.lease_until = None
                await rows.update(row)
                await uow.commit()

    @asynccontextmanager
    async def calling(self, row_id: str) -> AsyncIterator[None]:
        """Around the Stripe call of a claimed row: when its outcome is unknown (Stripe away,
        or the call cancelled: client gone, deadline) the lease is given back so the next
        attempt may go at once. Any other error is the caller's to store."""
        try:
            yield
        except DomainError as error:
            if outcome_unknown(error):
                await self.release(row_id)
            raise
        except BaseException:
            await asyncio.shield(self.release(row_id))
            raise


async def settled(attempt: Awaitable[E], reread: Callable[[], Awaitable[E]]) -> E:
    """The reconciler finishing a row's Stripe call: a decline or a refusal is stored with
    the row, so the row as it now is answers; an outcome still unknown is raised."""
    try:
        return await attempt
    except DomainError as error:
        if outcome_unknown(error):
            raise
        return await reread()
