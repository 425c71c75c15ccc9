"""Refund use cases: create, get, list, and finishing PENDING refunds (the reconciler's part).

CreateRefund follows DESIGN §5 with the refund rule on top. Under a lock on the
payment row (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite every write
transaction takes the database write lock when it begins, so reservations
serialize just the same) the refundable amount is computed and the refund row
is inserted PENDING, which reserves its amount. That transaction commits, so
no lock is held while Stripe is called; Stripe's answer is stored afterwards.

Only one caller at a time calls Stripe for a row in this process (a lock per
refund id). Any attempt after the first one (a retry with the same request_id,
the reconciler) first looks for a Stripe refund carrying our refund id in its
metadata and adopts it, and only creates one when there is none, with the
idempotency key of the first attempt. The reconciler leaves rows younger than
``RefundRules.pending_grace_s`` alone, so it never races a request that is
talking to Stripe on another replica.

What was refunded: the payment keeps Stripe's refunded total as last observed
(``stripe_amount_refunded``; PaymentIntent reads raise ``amount_refunded``, which
is folded into it) apart from the sum of our own rows, and ``amount_refunded`` is
the larger of the two. Our rows never lower Stripe's observed total; only a refund
known at Stripe that fails or is canceled takes its share out of it, which gives
its amount back. Refundable = received - max(succeeded rows, Stripe's total) -
in-flight rows. When Stripe's total is more than our rows explain (a dashboard
refund seen through a PaymentIntent read), CreateRefund first imports the missing
refunds from Stripe's list (no transaction open), or answers UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from payment_service import failpoints
from payment_service.app.audit import audit_entry
from payment_service.app.cache import Cache
from payment_service.app.idempotency import request_hash
from payment_service.app.payment_sync import api_read_time
from payment_service.app.payments import cache_key
from payment_service.app.ports import UnitOfWork, UnitOfWorkFactory
from payment_service.app.processor import REFUND_ID_KEY, PaymentProcessor, idempotency_key
from payment_service.app.reconciler import RepairReport
from payment_service.app.single_flight import KeyedLocks
from payment_service.app.validation import Violations
from payment_service.domain.caller import Caller
from payment_service.domain.clock import from_unix, utcnow
from payment_service.domain.entities import Payment, Refund
from payment_service.domain.errors import (
    Conflict,
    DomainError,
    FailedPrecondition,
    NotFound,
    RequestIdReused,
    ResourceExhausted,
    Unavailable,
)
from payment_service.domain.ids import new_id
from payment_service.domain.pagination import MAX_PAGE_SIZE, Page, PageRequest
from payment_service.domain.processor import RemoteRefund
from payment_service.domain.states import PaymentState, RefundReason, RefundState

log = logging.getLogger(__name__)

FAILURE_REASON_MAX = 64  # refunds.failure_reason is VARCHAR(64)
REPAIR_TASK = "finish_pending_refunds"
_LEASE_POLL_S = 0.05
# ``caller`` of refunds made outside the service; their request_id is the Stripe id.
OUTSIDE_CALLER = "stripe"
_GONE = frozenset({RefundState.FAILED, RefundState.CANCELED})
_IN_FLIGHT = (RefundState.PENDING, RefundState.REQUIRES_ACTION)


@dataclass(frozen=True, slots=True)
class RefundRules:
    # The reconciler leaves PENDING refunds younger than this to the request sending them;
    # keep it above the longest Stripe call (timeout x attempts).
    pending_grace_s: float = 60.0
    repair_batch: int = 100
    # Refunds known at Stripe but not settled there (pending, requires_action) are read
    # again on a backoff: a quarter of their age, between these two bounds.
    refresh_min_s: float = 60.0
    refresh_max_s: float = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class CreateRefund:
    request_id: str
    payment_id: str
    amount: int | None = None  # None: everything that is still refundable
    reason: RefundReason | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ListRefunds:
    page: PageRequest
    payment_id: str = ""
    account_id: str = ""


# --- shared with the webhook handlers (refund_events.py) --------------------------------------


def observed_refunded(payment: Payment) -> int:
    """Stripe's refunded total as last observed.

    PaymentIntent reads (payment_sync) only ever raise ``amount_refunded``; whatever they
    raised it to is Stripe's word and is folded in here.
    """
    return max(payment.stripe_amount_refunded, payment.amount_refunded)


async def refund_totals(uow: UnitOfWork, payment_id: str) -> tuple[int, int]:
    """(sum of SUCCEEDED rows, sum of PENDING and REQUIRES_ACTION rows)."""
    succeeded = await succeeded_total(uow, payment_id)
    reserved = await uow.refunds.sum_refundable_reserved(payment_id)
    return succeeded, max(reserved - succeeded, 0)


async def refundable_amount(uow: UnitOfWork, payment: Payment) -> int:
    """What may still be refunded: received - max(succeeded rows, Stripe's refunded total)
    - refunds in flight (pending, requires_action)."""
    if payment.state is not PaymentState.SUCCEEDED:
        return 0
    succeeded, in_flight = await refund_totals(uow, payment.id)
    refunded = max(succeeded, observed_refunded(payment))
    return max(payment.amount_received - refunded - in_flight, 0)


async def unexplained_refunded(uow: UnitOfWork, payment: Payment) -> int:
    """How much of Stripe's refunded total none of our rows explains (refunds to import)."""
    succeeded, in_flight = await refund_totals(uow, payment.id)
    return max(observed_refunded(payment) - succeeded - in_flight, 0)


async def succeeded_total(uow: UnitOfWork, payment_id: str) -> int:
    """The sum of the payment's SUCCEEDED refunds (a payment has few; pages of 200)."""
    total, token = 0, ""
    while True:
        page = await uow.refunds.list_for_payment(
            payment_id, page=PageRequest(MAX_PAGE_SIZE, token)
        )
        total += sum(r.amount for r in page.items if r.state is RefundState.SUCCEEDED)
        if page.is_last:
            return total
        token = page.next_page_token


async def sync_refunded_total(uow: UnitOfWork, payment: Payment, *, failed: int = 0) -> bool:
    """Recompute the (locked) payment's refunded amounts; True if they changed.

    ``amount_refunded`` = max(succeeded rows, Stripe's observed total). Our own rows never
    lower Stripe's total; ``failed`` is the share of it a refund that just failed or was
    canceled at Stripe took with it (``failed_share``), which gives that amount back.
    """
    observed = max(observed_refunded(payment) - failed, 0)
    succeeded = await succeeded_total(uow, payment.id)
    total = min(max(succeeded, observed), payment.amount_received)
    if (total, observed) == (payment.amount_refunded, payment.stripe_amount_refunded):
        return False
    payment.amount_refunded = total
    payment.stripe_amount_refunded = observed
    await uow.payments.update(payment)
    return True


async def failed_share(
    uow: UnitOfWork, payment: Payment, refund: Refund, before: RefundState
) -> int:
    """How much of Stripe's observed refunded total went away with ``refund``, which just
    moved from ``before`` to FAILED or CANCELED (its row already stored).

    Succeeded before: Stripe's total counted it (and ours is never below our succeeded
    rows), all of it. Pending before: Stripe may or may not have counted it yet; at most
    the part of Stripe's total that our remaining rows do not explain can be it.
    """
    if refund.state not in _GONE or before in _GONE or refund.stripe_refund_id is None:
        return 0
    if before is RefundState.SUCCEEDED:
        return refund.amount
    return min(refund.amount, await unexplained_refunded(uow, payment))


async def record_refund_change(
    uow: UnitOfWork, payment: Payment, refund: Refund, before: RefundState
) -> None:
    """After ``refund`` (stored) moved from ``before``: bring the payment's totals along."""
    failed = await failed_share(uow, payment, refund, before)
    await sync_refunded_total(uow, payment, failed=failed)


def refund_mismatch(refund: Refund, remote: RemoteRefund) -> str | None:
    """How Stripe's refund contradicts our row (linked id, amount, currency), if it does."""
    if refund.stripe_refund_id not in (None, remote.stripe_id):
        return f"linked to {refund.stripe_refund_id}, Stripe names {remote.stripe_id}"
    if remote.amount != refund.amount:
        return f"amount {remote.amount} != stored {refund.amount}"
    if remote.currency != refund.currency:
        return f"currency {remote.currency} != stored {refund.currency}"
    return None


async def import_refund(
    uow: UnitOfWork, payment: Payment, remote: RemoteRefund, observed_at_unix: int | None
) -> Refund | str:
    """Store a refund made outside the service (the payment row is locked); the reason it
    does not fit the payment instead, when it does not."""
    if remote.currency != payment.currency or remote.amount <= 0:
        return (
            f"refund {remote.stripe_id} of {remote.amount} {remote.currency} "
            f"does not fit payment {payment.id} in {payment.currency}"
        )
    refund = Refund(
        id=new_id("rfd"),
        payment_id=payment.id,
        account_id=payment.account_id,
        caller=OUTSIDE_CALLER,
        request_id=remote.stripe_id,
        request_hash=request_hash("StripeRefund", {"stripe_refund_id": remote.stripe_id}),
        amount=remote.amount,
        currency=payment.currency,
        reason=remote.reason,
        state=remote.state,
        failure_reason=(remote.failure_reason or "")[:FAILURE_REASON_MAX] or None,
        stripe_refund_id=remote.stripe_id,
        metadata=dict(remote.metadata),
        remote_updated_at=from_unix(observed_at_unix) if observed_at_unix else None,
        synced_at=utcnow() if observed_at_unix is None else None,
        create_time=from_unix(remote.created) if remote.created else utcnow(),
    )
    await uow.refunds.add(refund)
    await sync_refunded_total(uow, payment)
    return refund


def apply_remote(refund: Refund, remote: RemoteRefund, observed_at_unix: int | None) -> bool:
    """Copy Stripe's view onto ``refund``; False when nothing changed.

    The Stripe id is always linked, even from a stale observation. The state only
    moves through REFUND_TRANSITIONS and never back to an older observation
    (``observed_at_unix`` is the event's ``created``; None means a fresh API read).
    """
    linked = False
    if refund.stripe_refund_id is None:
        refund.stripe_refund_id = remote.stripe_id
        linked = True
    observed_at = api_read_time() if observed_at_unix is None else from_unix(observed_at_unix)
    if not refund.apply_remote_state(remote.state, observed_at):
        return linked
    if remote.failure_reason:
        refund.failure_reason = remote.failure_reason[:FAILURE_REASON_MAX]
    return True


def awaits_stripe(refund: Refund) -> bool:
    """PENDING and not yet known at Stripe: a create call is due (or its outcome unknown)."""
    return refund.state is RefundState.PENDING and refund.stripe_refund_id is None


# --- the use cases ------------------------------------------------------------------------------


class Refunds:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        processor: PaymentProcessor,
        cache: Cache,
        rules: RefundRules | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._processor = processor
        self._cache = cache
        self._rules = rules or RefundRules()
        self._request_locks = KeyedLocks()  # (caller, request_id): one request at a time
        self._stripe_locks = KeyedLocks()  # refund id: one Stripe call at a time per row

    # --- CreateRefund -------------------------------------------------------------------------

    async def create(self, caller: Caller, command: CreateRefund) -> Refund:
        _validate_create(command)
        body_hash = request_hash("CreateRefund", _create_fields(command))
        async with self._request_locks.hold((caller.sub, command.request_id)):
            async with self._uow_factory(read_only=True) as uow:
                existing = await uow.refunds.find_by_request(caller.sub, command.request_id)
            if existing is None:
                await self._import_unexplained(caller, command.payment_id)
                refund, first_attempt = await self._reserve(caller, command, body_hash)
            else:
                _check_replay(caller, existing, command, body_hash)
                refund, first_attempt = existing, False
            if awaits_stripe(refund):
                refund = await self._send(refund, first_attempt=first_attempt)
            return _answer(refund)

    async def _import_unexplained(self, caller: Caller, payment_id: str) -> None:
        """Stripe's refunded total is more than our rows explain: list the payment's refunds
        at Stripe (no transaction open) and import the missing ones before reserving.

        Raises Unavailable when Stripe cannot be asked: a refund must not be reserved
        against a total we cannot account for.
        """
        async with self._uow_factory(read_only=True) as uow:
            payment = await uow.payments.get(payment_id)
            if (
                payment is None
                or not caller.may_access(payment.account_id)
                or payment.state is not PaymentState.SUCCEEDED
                or payment.stripe_payment_intent_id is None
            ):
                return  # _reserve answers
            missing = await unexplained_refunded(uow, payment)
        if missing <= 0:
            return
        log.info(
            "Stripe reports refunds we have not stored; importing them",
            extra={"payment_id": payment_id, "unexplained": missing},
        )
        try:
            remotes = await self._processor.list_refunds(payment.stripe_payment_intent_id)
        except DomainError as error:
            if isinstance(error, Unavailable | ResourceExhausted):
                error.metadata.setdefault("payment_id", payment_id)
            raise
        await self._store_listed(payment_id, remotes)

    async def _store_listed(self, payment_id: str, remotes: Sequence[RemoteRefund]) -> None:
        """Apply a fresh list of the payment's Stripe refunds: update ours, import the rest."""
        async with self._uow_factory() as uow:
            payment = await uow.payments.get_for_update(payment_id)
            if payment is None:
                return
            for remote in remotes:
                stored = await uow.refunds.find_by_stripe_id(remote.stripe_id)
                ours = remote.metadata.get(REFUND_ID_KEY)
                if stored is None and ours:
                    stored = await uow.refunds.get(ours)
                if stored is None:
                    if ours:
                        continue  # made for a row we cannot see: not ours to import
                    imported = await import_refund(uow, payment, remote, None)
                    if isinstance(imported, str):
                        log.warning("Stripe refund not imported", extra={"detail": imported})
                    continue
                refund = await uow.refunds.get_for_update(stored.id)
                if refund is None or refund.payment_id != payment.id:
                    continue
                if refund_mismatch(refund, remote) is not None:
                    continue
                before = refund.state
                if apply_remote(refund, remote, None):
                    refund.synced_at = utcnow()
                    await uow.refunds.update(refund)
                    await record_refund_change(uow, payment, refund, before)
            await sync_refunded_total(uow, payment)
            await uow.commit()
        await self._cache.delete(cache_key(payment_id))

    async def _reserve(
        self, caller: Caller, command: CreateRefund, body_hash: str
    ) -> tuple[Refund, bool]:
        """Insert the PENDING row under the payment lock; True when this call inserted it."""
        try:
            async with self._uow_factory() as uow:
                payment = await uow.payments.get_for_update(command.payment_id)
                if payment is None or not caller.may_access(payment.account_id):
                    raise NotFound("payment", command.payment_id)
                _require_refundable_state(payment)
                refundable = await refundable_amount(uow, payment)
                amount = refundable if command.amount is None else command.amount
                if amount <= 0 or amount > refundable:
                    raise _exceeds(payment.id, amount, refundable)
                refund = Refund(
                    id=new_id("rfd"),
                    payment_id=payment.id,
                    account_id=payment.account_id,
                    caller=caller.sub,
                    request_id=command.request_id,
                    request_hash=body_hash,
                    amount=amount,
                    currency=payment.currency,
                    reason=command.reason,
                    metadata=dict(command.metadata),
                )
                await uow.refunds.add(refund)
                await uow.audit.add(
                    audit_entry(
                        actor=caller.sub,
                        action="refunds.create",
                        object_type="refund",
                        object_id=refund.id,
                        detail={"payment_id": payment.id, "amount": str(amount)},
                    )
                )
                await uow.commit()
        except Conflict:
            # Another replica inserted the same (caller, request_id) first.
            async with self._uow_factory(read_only=True) as uow:
                winner = await uow.refunds.find_by_request(caller.sub, command.request_id)
            if winner is None:
                raise
            _check_replay(caller, winner, command, body_hash)
            return winner, False
        return refund, True

    async def _send(self, refund: Refund, *, first_attempt: bool) -> Refund:
        """Get the refund created at Stripe exactly once and store the answer.

        Raises Unavailable/ResourceExhausted with the row left PENDING; a refusal by
        Stripe is stored (FAILED) and the row returned.
        """
        async with self._stripe_locks.hold(refund.id):
            refund, payment = await self._claim_lease(refund.id)
            if not awaits_stripe(refund):
                return refund  # settled while we waited for the lock
            payment_intent = _payment_intent(payment)
            try:
                remote = (
                    None if first_attempt else await self._find_at_stripe(refund, payment_intent)
                )
                if remote is None:
                    remote = await self._processor.create_refund(
                        refund_id=refund.id,
                        payment_intent=payment_intent,
                        idempotency_key=idempotency_key(refund.id, "create"),
                        amount=refund.amount,
                        reason=refund.reason,
                        metadata=refund.metadata,
                    )
            except DomainError as error:
                if isinstance(error, Unavailable | ResourceExhausted):
                    error.metadata.setdefault("refund_id", refund.id)
                    await self._release_lease(refund.id)
                    raise
                return await self._store_rejection(refund, error)
            failpoints.hit("refunds.create.after_stripe")
            return await self._store_remote(refund.id, payment.id, remote, None)

    async def _claim_lease(self, refund_id: str) -> tuple[Refund, Payment]:
        """Own the Stripe call for this row across replicas, or return the row once it is settled.

        The in-process lock serializes callers here; the lease in the row does the
        same between replicas, and expires so a crashed holder never blocks it.
        """
        while True:
            async with self._uow_factory() as uow:
                refund = await uow.refunds.get_for_update(refund_id)
                payment = None if refund is None else await uow.payments.get(refund.payment_id)
                if refund is None or payment is None:
                    raise NotFound("refund", refund_id)
                now = utcnow()
                if not awaits_stripe(refund):
                    return refund, payment
                if refund.lease_until is None or refund.lease_until <= now:
                    refund.lease_until = now + timedelta(seconds=self._rules.pending_grace_s)
                    await uow.refunds.update(refund)
                    await uow.commit()
                    return refund, payment
            await asyncio.sleep(_LEASE_POLL_S)

    async def _release_lease(self, refund_id: str) -> None:
        async with self._uow_factory() as uow:
            refund = await uow.refunds.get_for_update(refund_id)
            if refund is not None and refund.lease_until is not None:
                refund.lease_until = None
                await uow.refunds.update(refund)
                await uow.commit()

    async def _find_at_stripe(self, refund: Refund, payment_intent: str) -> RemoteRefund | None:
        """A Stripe refund made by an earlier attempt for this row (crash or lost answer);
        the gateway lists every page of the PaymentIntent's refunds."""
        for remote in await self._processor.list_refunds(payment_intent):
            if remote.metadata.get(REFUND_ID_KEY) == refund.id:
                return remote
        return None

    async def _store_remote(
        self, refund_id: str, payment_id: str, remote: RemoteRefund, observed_at_unix: int | None
    ) -> Refund:
        async with self._uow_factory() as uow:
            payment = await uow.payments.get_for_update(payment_id)  # payment, then refund
            refund = await uow.refunds.get_for_update(refund_id)
            if payment is None or refund is None:
                raise NotFound("refund", refund_id)
            before = refund.state
            changed = apply_remote(refund, remote, observed_at_unix)
            if observed_at_unix is None:
                refund.synced_at = utcnow()  # read now: the reconciler's backoff counts from here
            if changed or refund.lease_until is not None or observed_at_unix is None:
                refund.lease_until = None
                await uow.refunds.update(refund)
            await record_refund_change(uow, payment, refund, before)
            await uow.audit.add(
                audit_entry(
                    actor=refund.caller,
                    action="refunds.stripe_answer",
                    object_type="refund",
                    object_id=refund.id,
                    outcome=refund.state.value,
                    detail={"stripe_refund_id": remote.stripe_id},
                )
            )
            await uow.commit()
        await self._cache.delete(cache_key(payment_id))
        return refund

    async def _store_rejection(self, refund: Refund, error: DomainError) -> Refund:
        """Stripe refused to create the refund: nothing moved, the reserved amount is free again."""
        log.warning(
            "Stripe refused a refund",
            extra={"refund_id": refund.id, "reason": error.reason, "stripe_message": error.message},
        )
        async with self._uow_factory() as uow:
            stored = await uow.refunds.get_for_update(refund.id)
            if stored is None:
                raise NotFound("refund", refund.id)
            if awaits_stripe(stored):
                stored.move_to(RefundState.FAILED)
                stored.lease_until = None
                stored.failure_reason = error.reason.lower()[:FAILURE_REASON_MAX]
                await uow.refunds.update(stored)
                await uow.audit.add(
                    audit_entry(
                        actor=stored.caller,
                        action="refunds.stripe_answer",
                        object_type="refund",
                        object_id=stored.id,
                        outcome=error.reason,
                    )
                )
                await uow.commit()
        return stored

    async def _load(self, refund_id: str) -> tuple[Refund, Payment]:
        async with self._uow_factory(read_only=True) as uow:
            refund = await uow.refunds.get(refund_id)
            payment = await uow.payments.get(refund.payment_id) if refund else None
        if refund is None or payment is None:
            raise NotFound("refund", refund_id)
        return refund, payment

    # --- GetRefund / ListRefunds -----------------------------------------------------------------

    async def get(self, caller: Caller, refund_id: str) -> Refund:
        check = Violations()
        check.object_id(refund_id, "rfd")
        check.raise_if_any()
        async with self._uow_factory(read_only=True) as uow:
            refund = await uow.refunds.get(refund_id)
        if refund is None or not caller.may_access(refund.account_id):
            raise NotFound("refund", refund_id)
        return refund

    async def list(self, caller: Caller, query: ListRefunds) -> Page[Refund]:
        check = Violations()
        if bool(query.payment_id) == bool(query.account_id):
            message = "set exactly one of payment_id and account_id"
            check.add("payment_id", message)
            check.add("account_id", message)
        elif query.payment_id:
            check.object_id(query.payment_id, "pay", "payment_id")
        else:
            check.account_id(query.account_id)
        check.raise_if_any()
        if query.account_id:
            caller.require_account(query.account_id)
            async with self._uow_factory(read_only=True) as uow:
                return await uow.refunds.list_for_account(query.account_id, page=query.page)
        async with self._uow_factory(read_only=True) as uow:
            payment = await uow.payments.get(query.payment_id)
            if payment is None or not caller.may_access(payment.account_id):
                raise NotFound("payment", query.payment_id)
            return await uow.refunds.list_for_payment(query.payment_id, page=query.page)

    # --- the reconciler ----------------------------------------------------------------------------

    async def finish_pending(self, refund_id: str) -> Refund:
        """Settle one unsettled refund; raise Unavailable if Stripe is away.

        PENDING and not yet known at Stripe: adopt the Stripe refund an earlier attempt
        made, or create it (same idempotency key) -- exactly one Stripe refund. Known at
        Stripe but pending or requiring action there: read it again.
        """
        refund, payment = await self._load(refund_id)
        if refund.state not in _IN_FLIGHT:
            return refund
        if refund.stripe_refund_id is None:
            if refund.state is not RefundState.PENDING:
                return refund
            if refund.lease_until is not None and refund.lease_until > utcnow():
                return refund  # a request is talking to Stripe for it right now
            return await self._send(refund, first_attempt=False)
        remote = await self._processor.retrieve_refund(refund.stripe_refund_id)
        return await self._store_remote(refund.id, payment.id, remote, None)

    def _refresh_due(self, refund: Refund, now: datetime) -> bool:
        """Not yet sent: always due. Known at Stripe: read again after a quarter of its age
        (between ``refresh_min_s`` and ``refresh_max_s``) since the last read."""
        if refund.stripe_refund_id is None:
            return True
        age = (now - refund.create_time).total_seconds()
        interval = min(max(age / 4, self._rules.refresh_min_s), self._rules.refresh_max_s)
        last = refund.synced_at or refund.create_time
        return (now - last).total_seconds() >= interval

    async def repair_pending(self) -> RepairReport:
        """The reconciler's task: one pass over PENDING and REQUIRES_ACTION refunds older than
        the grace period (those known at Stripe on a backoff schedule).

        Stops at the first Unavailable (Stripe is away; the next pass tries again).
        """
        now = utcnow()
        older_than = now - timedelta(seconds=self._rules.pending_grace_s)
        async with self._uow_factory(read_only=True) as uow:
            unsettled = await uow.refunds.list_unsettled(older_than, limit=self._rules.repair_batch)
        repaired = errors = 0
        unresolved: list[Refund] = []
        pending = [r for r in unsettled if self._refresh_due(r, now)]
        unresolved.extend(r for r in unsettled if not self._refresh_due(r, now))
        for index, refund in enumerate(pending):
            try:
                finished = await self.finish_pending(refund.id)
            except DomainError as error:
                log.warning(
                    "could not finish a pending refund",
                    extra={"refund_id": refund.id, "reason": error.reason},
                )
                errors += 1
                if isinstance(error, Unavailable | ResourceExhausted):
                    unresolved.extend(pending[index:])
                    break
                unresolved.append(refund)
                continue
            if finished.state in _IN_FLIGHT:
                unresolved.append(finished)
            else:
                repaired += 1
        oldest = min((r.create_time for r in unresolved), default=now)
        return RepairReport(
            task=REPAIR_TASK,
            repaired=repaired,
            unresolved=len(unresolved),
            oldest_unresolved_age_s=max((now - oldest).total_seconds(), 0.0),
            errors=errors,
        )


# --- helpers ------------------------------------------------------------------------------------


def _validate_create(command: CreateRefund) -> None:
    check = Violations()
    check.request_id(command.request_id)
    check.object_id(command.payment_id, "pay", "payment_id")
    if command.amount is not None:
        check.amount(command.amount)
    check.metadata(command.metadata)
    check.raise_if_any()


def _create_fields(command: CreateRefund) -> dict[str, object]:
    return {
        "payment_id": command.payment_id,
        "amount": command.amount,
        "reason": command.reason.value if command.reason else None,
        "metadata": dict(command.metadata),
    }


def _check_replay(caller: Caller, refund: Refund, command: CreateRefund, body_hash: str) -> None:
    if refund.request_hash != body_hash:
        raise RequestIdReused(command.request_id)
    if not caller.may_access(refund.account_id):
        raise NotFound("payment", command.payment_id)


def _require_refundable_state(payment: Payment) -> None:
    if payment.state is not PaymentState.SUCCEEDED or payment.stripe_payment_intent_id is None:
        raise FailedPrecondition(
            f"payment {payment.id} is {payment.state.value}; only succeeded payments are refunded",
            reason="PAYMENT_NOT_REFUNDABLE",
            metadata={"payment_id": payment.id, "state": payment.state.value},
        )


def _exceeds(payment_id: str, amount: int, refundable: int) -> FailedPrecondition:
    return FailedPrecondition(
        f"refund of {amount} exceeds the {refundable} still refundable on payment {payment_id}",
        reason="REFUND_EXCEEDS_REFUNDABLE",
        metadata={"payment_id": payment_id, "refundable": str(refundable), "amount": str(amount)},
    )


def _payment_intent(payment: Payment) -> str:
    if payment.stripe_payment_intent_id is None:  # a reserved refund implies a linked payment
        raise NotFound("payment", payment.id)
    return payment.stripe_payment_intent_id


def _answer(refund: Refund) -> Refund:
    """CreateRefund's answer: the refund, or the refusal Stripe gave when it was sent."""
    if refund.state is RefundState.FAILED and refund.stripe_refund_id is None:
        raise FailedPrecondition(
            "Stripe refused the refund",
            reason="REFUND_REJECTED",
            metadata={"refund_id": refund.id, "code": refund.failure_reason or ""},
        )
    return refund
