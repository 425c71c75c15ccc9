"""Reading and writing one payment: row locks, Stripe's answers stored, the cache kept in step.

Every write commits first and then publishes the committed payment to the
cache with its row version, so an older version never replaces a newer one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from payment_service.app.common.audit import audit_entry
from payment_service.app.common.entity_codec import decode_entity, encode_entity
from payment_service.app.payments.rules import PaymentRules, cache_key
from payment_service.app.ports.cache import Cache
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.clock import api_read_time
from payment_service.domain.entities import Payment
from payment_service.domain.errors import Aborted, DomainError, found
from payment_service.domain.processor import ProcessorCardDeclined, RemotePaymentIntent
from payment_service.domain.states import PaymentState

STRIPE_ANSWER = "payments.stripe_answer"  # what Stripe said to the create we sent
_DECODED_ENTRIES = 10_000


@dataclass
class PaymentStore:
    uow_factory: UnitOfWorkFactory
    cache: Cache
    rules: PaymentRules
    # The entity last decoded from each key's cached bytes: a hit on the same bytes (the
    # in-process caches hand back the same object) is not decoded again. Shared by the
    # Gets that hit it, so never changed by them (queries.py only reads it).
    _decoded: dict[str, tuple[bytes, Payment]] = field(default_factory=dict, init=False, repr=False)

    async def load(self, payment_id: str) -> Payment:
        async with self.uow_factory(read_only=True) as uow:
            return found(await uow.payments.get(payment_id), "payment", payment_id)

    @staticmethod
    async def locked(uow: UnitOfWork, payment_id: str) -> Payment:
        return found(await uow.payments.get_for_update(payment_id), "payment", payment_id)

    async def cached(self, payment_id: str) -> Payment | None:
        """The cached payment (read-only: it may be shared with concurrent Gets)."""
        key = cache_key(payment_id)
        data = await self.cache.get(key)
        if data is None:
            return None
        seen = self._decoded.get(key)
        if seen is not None and (seen[0] is data or seen[0] == data):
            return seen[1]
        try:
            payment = decode_entity(Payment, data)
        except (ValueError, TypeError, KeyError):
            await self.cache.delete(key)
            return None
        if len(self._decoded) >= _DECODED_ENTRIES:
            self._decoded.clear()
        self._decoded[key] = (data, payment)
        return payment

    async def publish(self, payment: Payment) -> None:
        """Put the committed payment in the cache (an older version never wins)."""
        await self.cache.put(
            cache_key(payment.id), payment.version, encode_entity(payment), self.rules.cache_ttl_s
        )

    async def store_intent(
        self, payment_id: str, intent: RemotePaymentIntent, *, known: Payment | None = None
    ) -> Payment:
        """Stripe's answer to our own call, with the Stripe-call lease given back.

        ``known``: the payment as this request last wrote it; when no one changed the
        row since (its version), the answer is written over it without reading it again."""

        def apply(payment: Payment) -> None:
            payment.apply_intent(intent, api_read_time())

        return await self._settle(
            payment_id,
            apply,
            STRIPE_ANSWER,
            outcome=None,
            detail={"stripe_payment_intent_id": intent.stripe_id},
            known=known,
        )

    async def changed(
        self,
        uow: UnitOfWork,
        payment_id: str,
        change: Callable[[Payment], None],
        known: Payment | None,
    ) -> Payment:
        """``change`` applied and written in ``uow``: over ``known`` when the row still is
        at its version (an UPDATE … WHERE version, no read), else over the row read under
        its lock (FOR UPDATE), as when ``known`` is None."""
        if known is not None:
            payment = copy.copy(known)
            change(payment)
            try:
                await uow.payments.update_from(known, payment)
                return payment
            except Aborted:
                pass  # someone wrote the row meanwhile: read it under the lock
        payment = await self.locked(uow, payment_id)
        change(payment)
        await uow.payments.update(payment)
        return payment

    async def store_decline(
        self, payment_id: str, error: ProcessorCardDeclined, action: str
    ) -> Payment:
        def apply(payment: Payment) -> None:
            if error.payment_intent is not None:
                payment.apply_intent(error.payment_intent, api_read_time())
            elif payment.state is PaymentState.PENDING:
                payment.move_to(PaymentState.REQUIRES_PAYMENT_METHOD)
            payment.last_error_code = error.code or "card_declined"
            payment.last_error_decline_code = error.decline_code or None
            payment.last_error_message = error.message

        detail = {"decline_code": error.decline_code}
        return await self._settle(payment_id, apply, action, error.reason, detail)

    async def store_rejection(self, payment_id: str, error: DomainError) -> Payment:
        """Stripe refused to create the PaymentIntent: nothing was charged, the payment is FAILED."""

        def apply(payment: Payment) -> None:
            payment.move_to(PaymentState.FAILED)
            payment.last_error_code = error.reason.lower()
            payment.last_error_message = error.message

        return await self._settle(payment_id, apply, STRIPE_ANSWER, error.reason)

    async def _settle(
        self,
        payment_id: str,
        apply: Callable[[Payment], None],
        action: str,
        outcome: str | None,
        detail: Mapping[str, str] | None = None,
        known: Payment | None = None,
    ) -> Payment:
        """Stripe's answer ``apply``-ed under the row lock, the Stripe-call lease given back
        and the answer audited (``outcome``: the payment's new state when None)."""

        def settle(payment: Payment) -> None:
            apply(payment)
            payment.lease_until = None

        async with self.uow_factory() as uow:
            payment = await self.changed(uow, payment_id, settle, known)
            subject = ("payment", payment.id)
            await uow.audit.add(
                audit_entry(payment.caller, action, subject, outcome or payment.state.value, detail)
            )
            await uow.commit()
        await self.publish(payment)
        return payment
