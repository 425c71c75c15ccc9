"""A write that changes one existing object with one Stripe call, safe to retry whatever
happened in between (ConfirmPayment, CancelSubscription, PayInvoice, DetachPaymentMethod…).

1. The request and the object are read; an answered request replays its answer.
2. A new request has its preconditions checked (a refusal changes nothing), then is
   recorded as pending before Stripe is called.
3. A pending request is a retry after a lost answer (a crash, a timeout): its
   preconditions are not checked again, since the first attempt may have moved the
   object. When the object already is where the request wanted it (a webhook or the
   reconciler got there first), that is the answer; otherwise Stripe is called again
   with the same idempotency key and answers as it did the first time.
4. Stripe's answer is stored with the request's answer and an audit row, in one
   transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from payment_service.app.common.audit import audit
from payment_service.app.common.locks import KeyedLocks
from payment_service.app.common.replay import MutationRequest, RequestLedger, record, recorded
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.processor import idempotency_key
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.caller import Caller
from payment_service.domain.entities import RequestRecord
from payment_service.domain.errors import Aborted, CardDeclined, Conflict, NotFound


class Owned(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def account_id(self) -> str: ...


T = TypeVar("T", bound=Owned)
R = TypeVar("R")
R_in = TypeVar("R_in", contravariant=True)


class MutationSubject(Protocol[T, R_in]):
    """What one kind of object lends the mutation: how it is read and how an answer is kept."""

    kind: str  # "payment", as errors and audit rows name it

    async def load(self, uow: UnitOfWork, object_id: str) -> T | None: ...

    async def store(
        self, caller: Caller, request: MutationRequest, object_id: str, remote: R_in, action: str
    ) -> T:
        """Apply Stripe's answer, ``record`` the request and audit ``action``; one transaction."""

    async def declined(
        self, caller: Caller, request: MutationRequest, target: T, error: CardDeclined, action: str
    ) -> CardDeclined:
        """Keep a decline (and its answer); the error the caller gets."""

    def replay(self, answered: RequestRecord, target: T) -> None:
        """Raise what the recorded answer was, when it was an error."""


def _nothing_to_check(_target: object) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Mutation(Generic[T, R]):
    request: MutationRequest
    object_id: str
    action: str  # the audit action, e.g. ``payments.confirm``
    key: str  # what makes the idempotency key, with the object id
    call: Callable[[T, str], Awaitable[R]]  # the Stripe call, given the idempotency key
    reached: Callable[[T], bool]  # the request's goal already holds
    check: Callable[[T], Awaitable[None] | None] = _nothing_to_check  # first attempt only


@dataclass
class Mutations(Generic[T, R]):
    uow_factory: UnitOfWorkFactory
    subject: MutationSubject[T, R]
    failpoints: Failpoints = NO_FAILPOINTS

    def __post_init__(self) -> None:
        self._ledger = RequestLedger(self.uow_factory)
        self._locks = KeyedLocks()

    async def run(self, caller: Caller, mutation: Mutation[T, R]) -> T:
        request = mutation.request
        async with self._locks.hold((caller.sub, request.request_id)):
            async with self.uow_factory(read_only=True) as uow:
                answered = await recorded(uow, request)
                target = await self.subject.load(uow, mutation.object_id)
            if target is None or not caller.may_access(target.account_id):
                raise NotFound(self.subject.kind, mutation.object_id)
            if answered is None:
                checked = mutation.check(target)
                if checked is not None:
                    await checked
                answered = await self._ledger.begin(request, target.id)
            if answered is not None and not answered.pending:
                self.subject.replay(answered, target)
                return target
            if answered is not None and mutation.reached(target):
                return await self._settle(caller, mutation, target)
            return await self._call(caller, mutation, target)

    async def _call(self, caller: Caller, mutation: Mutation[T, R], target: T) -> T:
        key = idempotency_key(target.id, mutation.key)
        try:
            remote = await mutation.call(target, key)
        except CardDeclined as error:
            raise await self.subject.declined(
                caller, mutation.request, target, error, mutation.action
            ) from None
        self.failpoints.hit(f"{mutation.action}.after_stripe")
        try:
            return await self.subject.store(
                caller, mutation.request, target.id, remote, mutation.action
            )
        except Conflict:
            return await self._answered_elsewhere(mutation, target)

    async def _settle(self, caller: Caller, mutation: Mutation[T, R], target: T) -> T:
        """The object got where the request wanted it without our answer: that is the answer."""
        try:
            async with self.uow_factory() as uow:
                await record(uow, mutation.request, target.id)
                await audit(uow, caller.sub, mutation.action, (self.subject.kind, target.id))
                await uow.commit()
        except Conflict:
            return await self._answered_elsewhere(mutation, target)
        return target

    async def _answered_elsewhere(self, mutation: Mutation[T, R], target: T) -> T:
        """Another replica answered the same request first: replay its answer."""
        answered = await self._ledger.find(mutation.request)
        if answered is None or answered.pending:
            raise Aborted(f"{self.subject.kind} {target.id} changed meanwhile; retry")
        async with self.uow_factory(read_only=True) as uow:
            current = await self.subject.load(uow, target.id)
        if current is None:
            raise NotFound(self.subject.kind, target.id)
        self.subject.replay(answered, current)
        return current
