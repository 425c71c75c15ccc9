"""A row created once per AIP-155 request, then sent to Stripe once (DESIGN §5).

What CreatePayment, CreateSubscription and CreateSetupIntent share: identical requests on one replica
queue behind a lock keyed by (caller, request_id); the row the request made is
found again by it, or a new one is inserted with its audit row (or, when another
replica inserted it first, that replica's row is taken); a row made by another body
answers REQUEST_ID_REUSED. The new row comes holding its Stripe-call lease, so this is
the lease of those rows too, and the reconciler finishes an unsent row through it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import KW_ONLY, dataclass
from typing import Protocol, TypeVar

from payment_service.app.common.audit import audit_entry, insert_or_winner
from payment_service.app.common.leases import Leasable, StripeCallLease, settled
from payment_service.app.common.locks import KeyedLocks
from payment_service.app.common.replay import MadeByRequest, MutationRequest, RequestLedger
from payment_service.app.ports.storage import RequestedStore, UnitOfWork
from payment_service.domain.entities import AuditEntry
from payment_service.domain.errors import Conflict, DomainError, RequestIdReused


class Requested(Leasable, MadeByRequest, Protocol):
    pass


R = TypeVar("R", bound=Requested)


@dataclass
class CreateOnce(StripeCallLease[R]):
    rows: Callable[[UnitOfWork], RequestedStore[R]]
    _: KW_ONLY
    action: str  # the audit action of the create, e.g. "payments.create"

    def __post_init__(self) -> None:
        self.ledger = RequestLedger(self.uow_factory)
        self._locks = KeyedLocks()

    def audit_row(
        self, row: R, outcome: str = "ok", detail: Mapping[str, str] | None = None
    ) -> AuditEntry:
        """The create's audit row of ``row``: the caller whose request made it did ``action``
        on it (``outcome`` "ok" when inserted, Stripe's refusal's reason when refused)."""
        return audit_entry(row.caller, self.action, (self.kind, row.id), outcome, detail)

    @asynccontextmanager
    async def hold(self, request: MutationRequest) -> AsyncIterator[None]:
        """Serialize the identical requests of this replica (the others: unique keys, lease)."""
        async with self._locks.hold((request.caller, request.request_id)):
            yield

    async def obtain(
        self,
        request: MutationRequest,
        new: Callable[[], Awaitable[R]],
        *,
        new_in: Callable[[UnitOfWork], Awaitable[R | None]] | None = None,
    ) -> tuple[R, bool]:
        """The row ``request`` made, or ``new()``'s row inserted now, holding the lease:
        ``True`` only when this call inserted it.

        ``new_in`` makes the row from what the database already holds, in the insert's
        own transaction (the look-up of the request, the reads the new row needs, the
        insert and its audit row: one transaction); ``None`` when it needs work no
        transaction may stay open for (a Stripe call), and then ``new`` makes it."""
        if new_in is not None:
            obtained = await self._obtain_in_one(request, new_in)
            if obtained is not None:
                return obtained
        existing = await self._find(request)
        if existing is not None:
            return _made_by(existing, request), False
        row = await new()
        row.lease_until = self.new_lease()  # no second write to claim it
        stored, inserted = await insert_or_winner(
            self.uow_factory,
            row,
            add=lambda uow: self.rows(uow).add(row),
            winner=lambda: self._find(request),
            audit=self.audit_row(row),
        )
        return _made_by(stored, request), inserted

    async def _obtain_in_one(
        self, request: MutationRequest, new_in: Callable[[UnitOfWork], Awaitable[R | None]]
    ) -> tuple[R, bool] | None:
        try:
            async with self.uow_factory() as uow:
                rows = self.rows(uow)
                # The new row's reads go with the request's look-up: a new request (the
                # common case) needs both, and a found one ignores what new_in made of them.
                existing, made = await uow.together(
                    rows.find_by_request(request.caller, request.request_id),
                    _outcome(new_in(uow)),
                )
                if existing is not None:
                    return _made_by(existing, request), False
                if isinstance(made, DomainError):
                    raise made
                row = made
                if row is None:
                    return None
                row.lease_until = self.new_lease()  # no second write to claim it
                await rows.add_with_commit(row)
                await uow.audit.add(self.audit_row(row))
                await uow.commit()
        except Conflict:
            # Another replica inserted the same request first: theirs is the row.
            winner = await self._find(request)
            if winner is None:
                raise
            return _made_by(winner, request), False
        return row, True

    async def finish(
        self, load: Callable[[], Awaitable[R]], submit: Callable[[R], Awaitable[R]]
    ) -> R:
        """Reconciler: ``submit`` a row a crash or an outage left unsent, as a retry of its
        request would, unless it is settled or a request is talking to Stripe for it right
        now; a decline or a refusal is stored, so the row as it now is answers; an outcome
        still unknown (Unavailable) is raised."""
        current = await load()
        if not self.needs_call(current) or self.held(current):
            return current
        return await settled(submit(current), load)

    async def _find(self, request: MutationRequest) -> R | None:
        async with self.uow_factory(read_only=True) as uow:
            return await self.rows(uow).find_by_request(request.caller, request.request_id)


async def _outcome(made: Awaitable[R | None]) -> R | DomainError | None:
    """What ``made`` returns, or the domain error it raises (a refusal the caller raises
    only when it matters)."""
    try:
        return await made
    except DomainError as error:
        return error


def _made_by(row: R, request: MutationRequest) -> R:
    if row.request_hash != request.body_hash:
        raise RequestIdReused(request.request_id)
    return row
