"""A write that changes one existing object with one Stripe call, safe to retry whatever
happened in between (ConfirmPayment, CancelSubscription, PayInvoice, DetachPaymentMethod…).

1. The request and the object are read; an answered request replays its answer.
2. A new request has its preconditions checked (a refusal changes nothing), then is
   recorded as pending before Stripe is called (1 and 2: one transaction).
3. A pending request is a retry after a lost answer (a crash, a timeout): its
   preconditions are not checked again, since the first attempt may have moved the
   object. When the object already is where the request wanted it (a webhook or the
   reconciler got there first), that is the answer; otherwise Stripe is called again
   with the same idempotency key and answers as it did the first time.
4. Stripe's answer is stored with the request's answer and an audit row, in one
   transaction.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from payment_service.app.common.audit import audit_entry
from payment_service.app.common.locks import KeyedLocks
from payment_service.app.common.owned import AccountOwned
from payment_service.app.common.replay import MutationRequest, RequestLedger, record, recorded
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.processor import idempotency_key
from payment_service.app.ports.storage import EntityStore, UnitOfWork, UnitOfWorkFactory
from payment_service.domain.caller import Caller
from payment_service.domain.entities import RequestRecord
from payment_service.domain.entities.request_record import PENDING_RESPONSE
from payment_service.domain.errors import Aborted, CardDeclined, Conflict, NotFound

T = TypeVar("T", bound=AccountOwned)
R = TypeVar("R")
R_in = TypeVar("R_in", contravariant=True)


@dataclass(frozen=True, slots=True)
class Subject(Generic[T]):
    """The kind of object a mutation changes: ``kind`` names it in errors and audit rows
    ("payment"), ``actions`` prefixes its audit actions ("payments"), ``rows`` is where a
    unit of work keeps it."""

    kind: str
    actions: str
    rows: Callable[[UnitOfWork], EntityStore[T]]

    async def load(self, uow: UnitOfWork, object_id: str) -> T | None:
        return await self.rows(uow).get(object_id)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One run of a mutating request on one object."""

    caller: Caller
    request: MutationRequest
    object_id: str
    kind: str  # the object's kind, as its subject names it
    action: str  # the audit action, e.g. ``payments.confirm``
    ledger: RequestLedger
    known: object | None = None  # the object as this attempt read it (its row version)

    async def answered(self, uow: UnitOfWork, outcome: str = "ok") -> None:
        """Record the request's answer (the object) and its audit row in ``uow``, which
        stores the answer itself too; the caller commits."""
        await record(uow, self.request, self.object_id)
        await uow.audit.add(
            audit_entry(self.caller.sub, self.action, (self.kind, self.object_id), outcome)
        )

    async def declined(self, error: CardDeclined) -> None:
        """Record a decline as the request's answer, on its own (the decline's change to
        the object is committed already)."""
        await self.ledger.remember_decline(self.request, self.object_id, error)


class MutationAnswers(Protocol[T, R_in]):
    """How Stripe's answers about one kind of object are kept and replayed."""

    async def store(self, attempt: Attempt, remote: R_in) -> T:
        """Apply Stripe's answer, ``record`` the request and audit the action; one transaction."""

    async def declined(self, attempt: Attempt, target: T, error: CardDeclined) -> CardDeclined:
        """Keep a decline (and its answer); the error the caller gets."""

    def replay(self, answered: RequestRecord, target: T) -> None:
        """Raise what the recorded answer was, when it was an error."""


class PlainAnswers:
    """For objects whose commands know no card decline: a decline is passed on as it is."""

    async def declined(self, attempt: Attempt, target: object, error: CardDeclined) -> CardDeclined:
        return error

    def replay(self, answered: RequestRecord, target: object) -> None:
        return None


Check = Callable[[T], Awaitable[None] | None]


def _nothing_to_check(_target: object) -> None:
    return None


@dataclass
class Mutations(Generic[T, R]):
    uow_factory: UnitOfWorkFactory
    subject: Subject[T]
    answers: MutationAnswers[T, R]
    failpoints: Failpoints = NO_FAILPOINTS

    def __post_init__(self) -> None:
        self._ledger = RequestLedger(self.uow_factory)
        self._locks = KeyedLocks()

    async def run(
        self,
        caller: Caller,
        request: MutationRequest,
        object_id: str,
        call: Callable[[T, str], Awaitable[R]],
        reached: Callable[[T], bool],
        check: Check[T] = _nothing_to_check,
    ) -> T:
        """``call`` is the Stripe call (given the idempotency key), ``reached`` tells whether
        the request's goal already holds, ``check`` the preconditions of a first attempt."""
        verb = re.match(r"[A-Z][a-z]*", request.method)
        action = f"{self.subject.actions}.{verb.group().lower() if verb else request.method}"
        async with self._locks.hold((caller.sub, request.request_id)):
            answered, target = await self._begin(caller, request, object_id, check)
            attempt = Attempt(
                caller, request, object_id, self.subject.kind, action, self._ledger, known=target
            )
            if answered is not None and not answered.pending:
                self.answers.replay(answered, target)
                return target
            if answered is not None and reached(target):
                return await self._settle(attempt, target)
            return await self._call(attempt, target, call)

    async def _begin(
        self, caller: Caller, request: MutationRequest, object_id: str, check: Check[T]
    ) -> tuple[RequestRecord | None, T]:
        """Read the request and the object and, for a new request whose preconditions hold,
        record it as pending: one transaction. The recorded answer (``None``: a new one).

        A check that is a coroutine function reads for itself (its own unit of work), so it
        runs between a read-only transaction and the pending record's own, never inside one."""
        if inspect.iscoroutinefunction(check):
            return await self._begin_checked_apart(caller, request, object_id, check)
        target: T | None = None
        try:
            async with self.uow_factory() as uow:
                answered, target = await uow.together(
                    recorded(uow, request), self.subject.load(uow, object_id)
                )
                if target is None or not caller.may_access(target.account_id):
                    raise NotFound(self.subject.kind, object_id)
                if answered is not None:
                    return answered, target
                checked = check(target)
                if checked is not None:
                    await checked
                await record(uow, request, target.id, response=PENDING_RESPONSE)
                await uow.commit()
        except Conflict:
            if target is None:
                raise
            # Another replica recorded the same request first.
            return await self._ledger.find(request), target
        return None, target

    async def _begin_checked_apart(
        self, caller: Caller, request: MutationRequest, object_id: str, check: Check[T]
    ) -> tuple[RequestRecord | None, T]:
        async with self.uow_factory(read_only=True) as uow:
            answered = await recorded(uow, request)
            target = await self.subject.load(uow, object_id)
        if target is None or not caller.may_access(target.account_id):
            raise NotFound(self.subject.kind, object_id)
        if answered is None:
            checked = check(target)
            if checked is not None:
                await checked
            answered = await self._ledger.begin(request, target.id)
        return answered, target

    async def _call(self, attempt: Attempt, target: T, call: Callable[[T, str], Awaitable[R]]) -> T:
        verb = attempt.action.rpartition(".")[2]
        key = idempotency_key(target.id, f"{verb}:{attempt.request.request_id}")
        try:
            remote = await call(target, key)
        except CardDeclined as error:
            raise await self.answers.declined(attempt, target, error) from None
        self.failpoints.hit(f"{attempt.action}.after_stripe")
        try:
            return await self.answers.store(attempt, remote)
        except Conflict:
            return await self._answered_elsewhere(attempt.request, target)

    async def _settle(self, attempt: Attempt, target: T) -> T:
        """The object got where the request wanted it without our answer: that is the answer."""
        try:
            async with self.uow_factory() as uow:
                await attempt.answered(uow)
                await uow.commit()
        except Conflict:
            return await self._answered_elsewhere(attempt.request, target)
        return target

    async def _answered_elsewhere(self, request: MutationRequest, target: T) -> T:
        """Another replica answered the same request first: replay its answer."""
        answered = await self._ledger.find(request)
        if answered is None or answered.pending:
            raise Aborted(f"{self.subject.kind} {target.id} changed meanwhile; retry")
        async with self.uow_factory(read_only=True) as uow:
            current = await self.subject.load(uow, target.id)
        if current is None:
            raise NotFound(self.subject.kind, target.id)
        self.answers.replay(answered, current)
        return current
