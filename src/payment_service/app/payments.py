"""Payment use cases: create, confirm, capture, cancel, get, list.

The create flow follows DESIGN §5: the local row is committed as PENDING
first, then Stripe is called with an idempotency key derived from the row id,
then Stripe's answer is stored. Only one caller at a time talks to Stripe for
a row (an in-process lock per request plus a lease on the row across
replicas), so even a fake Stripe that ignores idempotency keys sees one call.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from payment_service import failpoints
from payment_service.app import deadlines
from payment_service.app.audit import audit_entry
from payment_service.app.cache import Cache
from payment_service.app.customers import Customers
from payment_service.app.entity_codec import decode_entity, encode_entity
from payment_service.app.idempotency import request_hash
from payment_service.app.payment_sync import api_read_time, apply_payment_intent
from payment_service.app.ports import UnitOfWork, UnitOfWorkFactory
from payment_service.app.processor import PaymentProcessor, idempotency_key
from payment_service.app.single_flight import KeyedLocks
from payment_service.app.validation import MAX_DESCRIPTION_LENGTH, Violations
from payment_service.domain.caller import Caller
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import Payment, RequestRecord
from payment_service.domain.errors import (
    CardDeclined,
    Conflict,
    DomainError,
    FailedPrecondition,
    InvalidTransition,
    NotFound,
    RequestIdReused,
    ResourceExhausted,
    Unavailable,
)
from payment_service.domain.ids import new_id
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.processor import ProcessorCardDeclined, RemotePaymentIntent
from payment_service.domain.states import CaptureMethod, PaymentMethodState, PaymentState

log = logging.getLogger(__name__)

_CONFIRMABLE = frozenset(
    {
        PaymentState.REQUIRES_PAYMENT_METHOD,
        PaymentState.REQUIRES_CONFIRMATION,
        PaymentState.REQUIRES_ACTION,
    }
)
_CANCELABLE = frozenset(
    {
        PaymentState.REQUIRES_PAYMENT_METHOD,
        PaymentState.REQUIRES_CONFIRMATION,
        PaymentState.REQUIRES_ACTION,
        PaymentState.REQUIRES_CAPTURE,
        PaymentState.PROCESSING,
    }
)
_LEASE_POLL_S = 0.05
# Written on every PaymentIntent by the gateway; callers may not use them.
RESERVED_METADATA_KEYS = ("payment_id",)

_StripeCall = Callable[[Payment], Awaitable[RemotePaymentIntent]]


@dataclass(frozen=True, slots=True)
class PaymentRules:
    currencies: frozenset[str]
    refresh_after_s: float = 5.0
    cache_ttl_s: float = 300.0
    stripe_lease_s: float = 30.0  # how long one caller may hold a row while it talks to Stripe


@dataclass(frozen=True, slots=True)
class CreatePayment:
    request_id: str
    account_id: str
    amount: int
    currency: str
    payment_method: str = ""
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    confirm: bool = False
    description: str = ""
    receipt_email: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ListPayments:
    account_id: str
    page: PageRequest
    states: frozenset[PaymentState] = frozenset()
    created_after: datetime | None = None
    created_before: datetime | None = None


def cache_key(payment_id: str) -> str:
    return f"payment:{payment_id}"


class Payments:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        processor: PaymentProcessor,
        cache: Cache,
        customers: Customers,
        rules: PaymentRules,
    ) -> None:
        self._uow_factory = uow_factory
        self._processor = processor
        self._cache = cache
        self._customers = customers
        self._rules = rules
        self._locks = KeyedLocks()

    # --- CreatePayment ----------------------------------------------------------------

    async def create(self, caller: Caller, command: CreatePayment) -> Payment:
        currency = self._validate_create(command)
        body_hash = request_hash("CreatePayment", _create_fields(command, currency))
        caller.require_account(command.account_id)
        async with self._locks.hold((caller.sub, command.request_id)):
            existing = await self._find_by_request(caller, command.request_id)
            if existing is None:
                inserted, ours = await self._insert_new(caller, command, currency, body_hash)
                return await self._submit_create(inserted, first_attempt=ours)
            if existing.request_hash != body_hash:
                raise RequestIdReused(command.request_id)
            if existing.state is not PaymentState.PENDING:
                return await self._replay_create(existing)
            return await self._submit_create(existing, first_attempt=False)

    def _validate_create(self, command: CreatePayment) -> str:
        check = Violations()
        check.request_id(command.request_id)
        check.account_id(command.account_id)
        check.amount(command.amount)
        currency = check.currency(command.currency, self._rules.currencies)
        check.stripe_id(command.payment_method, "pm", "stripe_payment_method_id", required=False)
        check.free_text(command.description, "description", MAX_DESCRIPTION_LENGTH)
        check.email(command.receipt_email, "receipt_email")
        check.metadata(command.metadata, reserved_keys=RESERVED_METADATA_KEYS)
        check.raise_if_any()
        return currency

    async def _find_by_request(self, caller: Caller, request_id: str) -> Payment | None:
        async with self._uow_factory(read_only=True) as uow:
            return await uow.payments.find_by_request(caller.sub, request_id)

    async def _insert_new(
        self, caller: Caller, command: CreatePayment, currency: str, body_hash: str
    ) -> tuple[Payment, bool]:
        if command.payment_method:
            await self._check_payment_method_owner(command.payment_method, command.account_id)
        customer = await self._customers.get_or_create(caller, command.account_id)
        payment_method = command.payment_method or await self._default_payment_method(
            customer.default_payment_method_id
        )
        payment = Payment(
            id=new_id("pay"),
            account_id=command.account_id,
            customer_id=customer.id,
            caller=caller.sub,
            request_id=command.request_id,
            request_hash=body_hash,
            amount=command.amount,
            currency=currency,
            capture_method=command.capture_method,
            payment_method=payment_method,
            description=command.description or None,
            receipt_email=command.receipt_email or None,
            stripe_customer_id=customer.stripe_customer_id,
            metadata=dict(command.metadata),
            confirm_on_create=command.confirm,
            # Inserted already holding the Stripe-call lease: no second write to claim it.
            lease_until=utcnow() + timedelta(seconds=self._rules.stripe_lease_s),
        )
        try:
            async with self._uow_factory() as uow:
                await uow.payments.add(payment)
                await uow.audit.add(
                    audit_entry(
                        actor=caller.sub,
                        action="payments.create",
                        object_type="payment",
                        object_id=payment.id,
                    )
                )
                await uow.commit()
        except Conflict:
            # Another replica inserted the same (caller, request_id) first.
            winner = await self._find_by_request(caller, command.request_id)
            if winner is None:
                raise
            if winner.request_hash != body_hash:
                raise RequestIdReused(command.request_id) from None
            return winner, False
        return payment, True

    async def _check_payment_method_owner(
        self, stripe_payment_method_id: str, account_id: str
    ) -> None:
        """A saved payment method of another account (or a detached one) is not there for this one."""
        async with self._uow_factory(read_only=True) as uow:
            method = await uow.payment_methods.find_by_stripe_id(stripe_payment_method_id)
        if method is not None and (
            method.account_id != account_id or method.state is not PaymentMethodState.ATTACHED
        ):
            raise NotFound("payment_method", stripe_payment_method_id)

    async def _default_payment_method(self, payment_method_id: str | None) -> str | None:
        if payment_method_id is None:
            return None
        async with self._uow_factory(read_only=True) as uow:
            method = await uow.payment_methods.get(payment_method_id)
        if method is None or method.state is not PaymentMethodState.ATTACHED:
            return None
        return method.stripe_payment_method_id

    async def _submit_create(self, payment: Payment, *, first_attempt: bool) -> Payment:
        """Send a PENDING payment to Stripe once, or wait for whoever is doing it.

        A later attempt first looks for a PaymentIntent an earlier one made (its
        answer may have been lost to a crash, a timeout or a cancelled call), so
        even a Stripe that ignored idempotency keys would see one PaymentIntent.
        """
        # A row this request just inserted comes with the lease; any other attempt claims it.
        claimed = payment if first_attempt else await self._claim_lease(payment.id)
        if claimed.state is not PaymentState.PENDING:
            return await self._replay_create(claimed)
        try:
            found = None
            if not first_attempt:
                found = await self._processor.find_payment_intent_by_payment_id(
                    claimed.id, customer=claimed.stripe_customer_id
                )
            intent = found or await self._processor.create_payment_intent(
                payment_id=claimed.id,
                amount=claimed.amount,
                currency=claimed.currency,
                idempotency_key=idempotency_key(claimed.id, "create"),
                customer=claimed.stripe_customer_id,
                payment_method=claimed.payment_method,
                capture_method=claimed.capture_method,
                confirm=claimed.confirm_on_create,
                description=claimed.description,
                receipt_email=claimed.receipt_email,
                metadata=claimed.metadata,
            )
        except ProcessorCardDeclined as declined:
            stored = await self._store_decline(claimed.id, declined, "payments.create")
            error = _declined(stored, declined)
            await self._remember(
                claimed.caller,
                "CreatePayment",
                claimed.request_id,
                claimed.request_hash,
                stored.id,
                error,
            )
            raise error from None
        except DomainError as error:
            if _outcome_unknown(error):
                await self._release_lease(claimed.id)
                raise
            stored = await self._store_rejection(claimed.id, error)
            raise _with_payment(error, stored.id) from None
        except BaseException:
            # Cancelled (client gone, deadline) with the outcome unknown: let the next attempt in now.
            await asyncio.shield(self._release_lease(claimed.id))
            raise
        failpoints.hit("payments.create.after_stripe")
        return await self._store_intent(claimed.id, intent)

    async def finish_pending(self, payment_id: str) -> Payment:
        """Reconciler: settle a PENDING payment left by a crash or an outage, with one PaymentIntent.

        Stripe is first searched for a PaymentIntent carrying our id (the crash
        may have come after Stripe created it); only when there is none is the
        create repeated, with the same idempotency key as the first attempt.
        A decline or a refusal is stored, not raised; Unavailable is raised.
        """
        async with self._uow_factory(read_only=True) as uow:
            payment = await uow.payments.get(payment_id)
        if payment is None:
            raise NotFound("payment", payment_id)
        if payment.state is not PaymentState.PENDING:
            return payment
        if payment.lease_until is not None and payment.lease_until > utcnow():
            return payment  # a request is talking to Stripe for it right now
        try:
            return await self._submit_create(payment, first_attempt=False)
        except CardDeclined:
            return await self._reload(payment.id)
        except DomainError as error:
            if _outcome_unknown(error):
                raise
            return await self._reload(payment.id)

    async def _replay_create(self, payment: Payment) -> Payment:
        """The answer CreatePayment gave: a decline is raised again, anything else is the payment."""
        async with self._uow_factory(read_only=True) as uow:
            record = await uow.request_records.get(payment.caller, payment.request_id)
        if record is not None and record.method == "CreatePayment":
            return _replay_recorded(record, payment)
        if payment.state is PaymentState.FAILED:
            raise FailedPrecondition(
                payment.last_error_message or "Stripe refused the payment",
                reason="PAYMENT_FAILED",
                metadata={"payment_id": payment.id, "code": payment.last_error_code or ""},
            )
        return payment

    async def _reload(self, payment_id: str) -> Payment:
        async with self._uow_factory(read_only=True) as uow:
            payment = await uow.payments.get(payment_id)
        if payment is None:
            raise NotFound("payment", payment_id)
        return payment

    async def _claim_lease(self, payment_id: str) -> Payment:
        """Own the right to call Stripe for this PENDING row, or return it once it is settled."""
        while True:
            async with self._uow_factory() as uow:
                payment = await uow.payments.get_for_update(payment_id)
                if payment is None:
                    raise NotFound("payment", payment_id)
                now = utcnow()
                if payment.state is not PaymentState.PENDING:
                    return payment
                if payment.lease_until is None or payment.lease_until <= now:
                    payment.lease_until = now + timedelta(seconds=self._rules.stripe_lease_s)
                    await uow.payments.update(payment)
                    await uow.commit()
                    return payment
            left = deadlines.remaining()
            if left is not None and left < _LEASE_POLL_S * 2:
                raise Unavailable(
                    "another request is sending this payment to Stripe; retry with the same request_id",
                    reason="PAYMENT_IN_PROGRESS",
                    retry_after_seconds=1.0,
                )
            await asyncio.sleep(_LEASE_POLL_S)

    async def _release_lease(self, payment_id: str) -> None:
        async with self._uow_factory() as uow:
            payment = await uow.payments.get_for_update(payment_id)
            if payment is not None and payment.lease_until is not None:
                payment.lease_until = None
                await uow.payments.update(payment)
                await uow.commit()

    async def _store_intent(self, payment_id: str, intent: RemotePaymentIntent) -> Payment:
        async with self._uow_factory() as uow:
            payment = await self._locked(uow, payment_id)
            apply_payment_intent(payment, intent, api_read_time())
            payment.lease_until = None
            await uow.payments.update(payment)
            await uow.commit()
        await self._publish(payment)
        return payment

    async def _store_decline(
        self, payment_id: str, declined: ProcessorCardDeclined, action: str
    ) -> Payment:
        async with self._uow_factory() as uow:
            payment = await self._locked(uow, payment_id)
            if declined.payment_intent is not None:
                apply_payment_intent(payment, declined.payment_intent, api_read_time())
            elif payment.state is PaymentState.PENDING:
                payment.move_to(PaymentState.REQUIRES_PAYMENT_METHOD)
            payment.last_error_code = declined.code or "card_declined"
            payment.last_error_decline_code = declined.decline_code or None
            payment.last_error_message = declined.message
            payment.lease_until = None
            await uow.payments.update(payment)
            await uow.audit.add(
                audit_entry(
                    actor=payment.caller,
                    action=action,
                    object_type="payment",
                    object_id=payment.id,
                    outcome="CARD_DECLINED",
                    detail={"decline_code": declined.decline_code},
                )
            )
            await uow.commit()
        await self._publish(payment)
        return payment

    async def _store_rejection(self, payment_id: str, error: DomainError) -> Payment:
        """Stripe refused to create the PaymentIntent: nothing was charged, the payment is FAILED."""
        async with self._uow_factory() as uow:
            payment = await self._locked(uow, payment_id)
            payment.move_to(PaymentState.FAILED)
            payment.last_error_code = error.reason.lower()
            payment.last_error_message = error.message
            payment.lease_until = None
            await uow.payments.update(payment)
            await uow.commit()
        await self._publish(payment)
        return payment

    # --- ConfirmPayment / CapturePayment / CancelPayment ------------------------------

    async def confirm(
        self, caller: Caller, request_id: str, payment_id: str, payment_method: str = ""
    ) -> Payment:
        check = Violations()
        check.request_id(request_id)
        check.object_id(payment_id, "pay")
        check.stripe_id(payment_method, "pm", "stripe_payment_method_id", required=False)
        check.raise_if_any()
        body_hash = request_hash(
            "ConfirmPayment", {"id": payment_id, "payment_method": payment_method}
        )

        async def call(payment: Payment) -> RemotePaymentIntent:
            if payment.state not in _CONFIRMABLE:
                raise InvalidTransition("payment", payment.id, payment.state.value, "confirmed")
            if payment_method:
                await self._check_payment_method_owner(payment_method, payment.account_id)
            return await self._processor.confirm_payment_intent(
                _stripe_id(payment),
                idempotency_key=idempotency_key(payment.id, f"confirm:{request_id}"),
                payment_method=payment_method or None,
            )

        return await self._mutate(caller, "ConfirmPayment", request_id, body_hash, payment_id, call)

    async def capture(
        self, caller: Caller, request_id: str, payment_id: str, amount_to_capture: int | None = None
    ) -> Payment:
        check = Violations()
        check.request_id(request_id)
        check.object_id(payment_id, "pay")
        if amount_to_capture is not None:
            check.amount(amount_to_capture, "amount_to_capture")
        check.raise_if_any()
        body_hash = request_hash(
            "CapturePayment", {"id": payment_id, "amount_to_capture": amount_to_capture}
        )

        async def call(payment: Payment) -> RemotePaymentIntent:
            if payment.state is not PaymentState.REQUIRES_CAPTURE:
                raise InvalidTransition(
                    "payment", payment.id, payment.state.value, PaymentState.SUCCEEDED.value
                )
            if amount_to_capture is not None and amount_to_capture > payment.amount_capturable:
                check = Violations()
                check.add(
                    "amount_to_capture",
                    f"must be at most the capturable {payment.amount_capturable}",
                )
                check.raise_if_any()
            return await self._processor.capture_payment_intent(
                _stripe_id(payment),
                idempotency_key=idempotency_key(payment.id, f"capture:{request_id}"),
                amount_to_capture=amount_to_capture,
            )

        return await self._mutate(caller, "CapturePayment", request_id, body_hash, payment_id, call)

    async def cancel(
        self, caller: Caller, request_id: str, payment_id: str, reason: str | None = None
    ) -> Payment:
        check = Violations()
        check.request_id(request_id)
        check.object_id(payment_id, "pay")
        check.raise_if_any()
        body_hash = request_hash("CancelPayment", {"id": payment_id, "reason": reason})

        async def call(payment: Payment) -> RemotePaymentIntent:
            if payment.state not in _CANCELABLE:
                raise InvalidTransition(
                    "payment", payment.id, payment.state.value, PaymentState.CANCELED.value
                )
            return await self._processor.cancel_payment_intent(
                _stripe_id(payment),
                idempotency_key=idempotency_key(payment.id, f"cancel:{request_id}"),
                reason=reason,
            )

        return await self._mutate(caller, "CancelPayment", request_id, body_hash, payment_id, call)

    async def _mutate(
        self,
        caller: Caller,
        method: str,
        request_id: str,
        body_hash: str,
        payment_id: str,
        call: _StripeCall,
    ) -> Payment:
        """One state-changing call at Stripe, remembered under the caller's request_id."""
        async with self._locks.hold((caller.sub, request_id)):
            async with self._uow_factory(read_only=True) as uow:
                record = await uow.request_records.get(caller.sub, request_id)
                payment = await uow.payments.get(payment_id)
            if payment is None or not caller.may_access(payment.account_id):
                raise NotFound("payment", payment_id)
            if record is not None:
                if not record.matches(method, body_hash):
                    raise RequestIdReused(request_id)
                return _replay_recorded(record, payment)
            action = f"payments.{method.removesuffix('Payment').lower()}"
            try:
                intent = await call(payment)
            except ProcessorCardDeclined as declined:
                stored = await self._store_decline(payment.id, declined, action)
                await self._remember(
                    caller.sub,
                    method,
                    request_id,
                    body_hash,
                    stored.id,
                    _declined(stored, declined),
                )
                raise _declined(stored, declined) from None
            try:
                stored = await self._store_mutation(
                    caller, method, request_id, body_hash, payment.id, intent, action
                )
            except Conflict:
                # Another replica answered the same request_id first; replay its answer.
                async with self._uow_factory(read_only=True) as uow:
                    record = await uow.request_records.get(caller.sub, request_id)
                    current = await uow.payments.get(payment.id)
                if current is None:
                    raise NotFound("payment", payment.id) from None
                if record is None or not record.matches(method, body_hash):
                    raise RequestIdReused(request_id) from None
                return _replay_recorded(record, current)
            await self._publish(stored)
            return stored

    async def _store_mutation(
        self,
        caller: Caller,
        method: str,
        request_id: str,
        body_hash: str,
        payment_id: str,
        intent: RemotePaymentIntent,
        action: str,
    ) -> Payment:
        async with self._uow_factory() as uow:
            stored = await self._locked(uow, payment_id)
            apply_payment_intent(stored, intent, api_read_time())
            await uow.payments.update(stored)
            await uow.request_records.add(
                RequestRecord(
                    caller=caller.sub,
                    request_id=request_id,
                    method=method,
                    request_hash=body_hash,
                    resource_id=stored.id,
                )
            )
            await uow.audit.add(
                audit_entry(
                    actor=caller.sub, action=action, object_type="payment", object_id=stored.id
                )
            )
            await uow.commit()
        return stored

    async def _remember(
        self,
        caller: str,
        method: str,
        request_id: str,
        body_hash: str,
        payment_id: str,
        error: CardDeclined,
    ) -> None:
        response = json.dumps(
            {
                "error": "CARD_DECLINED",
                "message": error.message,
                "code": error.code,
                "decline_code": error.decline_code,
            }
        ).encode()
        try:
            async with self._uow_factory() as uow:
                await uow.request_records.add(
                    RequestRecord(
                        caller=caller,
                        request_id=request_id,
                        method=method,
                        request_hash=body_hash,
                        resource_id=payment_id,
                        response=response,
                    )
                )
                await uow.commit()
        except Conflict:
            pass  # another replica recorded the same request first

    # --- GetPayment / ListPayments -----------------------------------------------------

    async def get(self, caller: Caller, payment_id: str) -> Payment:
        check = Violations()
        check.object_id(payment_id, "pay")
        check.raise_if_any()
        payment = await self._cached(payment_id)
        if payment is None:
            async with self._uow_factory(read_only=True) as uow:
                payment = await uow.payments.get(payment_id)
            if payment is None:
                raise NotFound("payment", payment_id)
            if not self._needs_refresh(payment):
                await self._publish(payment)
        if not caller.may_access(payment.account_id):
            raise NotFound("payment", payment_id)
        if self._needs_refresh(payment):
            return await self._refresh_once(payment)
        return payment

    async def _refresh_once(self, payment: Payment) -> Payment:
        """Concurrent Gets of one stale payment make one Stripe read; the others reuse it."""
        async with self._locks.hold(("refresh", payment.id)):
            current = await self._reload(payment.id)
            if not self._needs_refresh(current):
                return current
            return await self._refresh(current)

    def _needs_refresh(self, payment: Payment) -> bool:
        if (
            payment.is_final
            or payment.state is PaymentState.PENDING
            or payment.stripe_payment_intent_id is None
        ):
            return False
        last = payment.synced_at or payment.update_time
        return utcnow() - last >= timedelta(seconds=self._rules.refresh_after_s)

    async def _refresh(self, payment: Payment) -> Payment:
        """Re-read a non-final payment from Stripe; on failure answer with what is stored."""
        try:
            intent = await self._processor.retrieve_payment_intent(_stripe_id(payment))
        except DomainError as error:
            log.warning(
                "could not refresh payment from Stripe",
                extra={"payment_id": payment.id, "reason": error.reason},
            )
            return payment
        async with self._uow_factory() as uow:
            stored = await self._locked(uow, payment.id)
            apply_payment_intent(stored, intent, api_read_time())
            stored.synced_at = utcnow()
            await uow.payments.update(stored)
            await uow.commit()
        await self._publish(stored)
        return stored

    async def list(self, caller: Caller, query: ListPayments) -> Page[Payment]:
        check = Violations()
        check.account_id(query.account_id)
        if (
            query.created_after
            and query.created_before
            and query.created_after >= query.created_before
        ):
            check.add("created_before", "must be later than created_after")
        check.raise_if_any()
        caller.require_account(query.account_id)
        async with self._uow_factory(read_only=True) as uow:
            return await uow.payments.list_for_account(
                query.account_id,
                page=query.page,
                states=query.states,
                created_after=query.created_after,
                created_before=query.created_before,
            )

    # --- shared ------------------------------------------------------------------------

    async def _locked(self, uow: UnitOfWork, payment_id: str) -> Payment:
        payment = await uow.payments.get_for_update(payment_id)
        if payment is None:
            raise NotFound("payment", payment_id)
        return payment

    async def _cached(self, payment_id: str) -> Payment | None:
        data = await self._cache.get(cache_key(payment_id))
        if data is None:
            return None
        try:
            return decode_entity(Payment, data)
        except (ValueError, TypeError, KeyError):
            await self._cache.delete(cache_key(payment_id))
            return None

    async def _publish(self, payment: Payment) -> None:
        """Put the committed payment in the cache (an older version never wins)."""
        await self._cache.put(
            cache_key(payment.id), payment.version, encode_entity(payment), self._rules.cache_ttl_s
        )


def _create_fields(command: CreatePayment, currency: str) -> dict[str, object]:
    return {
        "account_id": command.account_id,
        "amount": command.amount,
        "currency": currency,
        "payment_method": command.payment_method,
        "capture_method": command.capture_method.value,
        "confirm": command.confirm,
        "description": command.description,
        "receipt_email": command.receipt_email,
        "metadata": dict(command.metadata),
    }


def _stripe_id(payment: Payment) -> str:
    if payment.stripe_payment_intent_id is None:
        raise FailedPrecondition(
            f"payment {payment.id} is not yet known at Stripe; retry CreatePayment with its request_id",
            reason="PAYMENT_PENDING",
            metadata={"id": payment.id},
        )
    return payment.stripe_payment_intent_id


def _outcome_unknown(error: DomainError) -> bool:
    """Errors after which Stripe may or may not have acted: keep the row PENDING."""
    return isinstance(error, Unavailable | ResourceExhausted)


def _declined(payment: Payment, declined: CardDeclined) -> CardDeclined:
    return CardDeclined(
        declined.message or "the card was declined",
        code=declined.code or "card_declined",
        decline_code=declined.decline_code,
        payment_id=payment.id,
    )


def _with_payment(error: DomainError, payment_id: str) -> DomainError:
    error.metadata.setdefault("payment_id", payment_id)
    return error


def _replay_recorded(record: RequestRecord, payment: Payment) -> Payment:
    if record.response:
        outcome = json.loads(record.response)
        if outcome.get("error") == "CARD_DECLINED":
            raise CardDeclined(
                outcome.get("message") or "the card was declined",
                code=outcome.get("code", ""),
                decline_code=outcome.get("decline_code", ""),
                payment_id=payment.id,
            )
    return payment
