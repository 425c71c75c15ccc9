"""ConfirmPayment, CapturePayment, CancelPayment: one state-changing Stripe call each,
remembered under the caller's request_id so a retry replays the first answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from payment_service.app.common.audit import audit
from payment_service.app.common.locks import KeyedLocks
from payment_service.app.common.replay import (
    MutationRequest,
    RequestLedger,
    raise_recorded_decline,
    record,
    recorded,
)
from payment_service.app.common.validation import Violations
from payment_service.app.payments.create import check_payment_method_owner
from payment_service.app.payments.rules import CANCELABLE, CONFIRMABLE, declined, stripe_id
from payment_service.app.payments.store import PaymentStore
from payment_service.app.ports.processor import PaymentProcessor, idempotency_key
from payment_service.domain.caller import Caller
from payment_service.domain.clock import api_read_time
from payment_service.domain.entities import Payment
from payment_service.domain.errors import Conflict, InvalidTransition, NotFound, RequestIdReused
from payment_service.domain.processor import ProcessorCardDeclined, RemotePaymentIntent
from payment_service.domain.states import PaymentState

StripeCall = Callable[[Payment], Awaitable[RemotePaymentIntent]]


def _checked(request_id: str, payment_id: str, check: Violations | None = None) -> None:
    check = check or Violations()
    check.request_id(request_id)
    check.object_id(payment_id, "pay")
    check.raise_if_any()


@dataclass
class PaymentCommands:
    store: PaymentStore
    processor: PaymentProcessor

    def __post_init__(self) -> None:
        self._ledger = RequestLedger(self.store.uow_factory)
        self._locks = KeyedLocks()

    async def confirm(
        self, caller: Caller, request_id: str, payment_id: str, payment_method: str = ""
    ) -> Payment:
        check = Violations()
        check.stripe_id(payment_method, "pm", "stripe_payment_method_id", required=False)
        _checked(request_id, payment_id, check)
        fields = {"id": payment_id, "payment_method": payment_method}

        async def call(payment: Payment) -> RemotePaymentIntent:
            if payment.state not in CONFIRMABLE:
                raise InvalidTransition("payment", payment.id, payment.state.value, "confirmed")
            if payment_method:
                await check_payment_method_owner(
                    self.store.uow_factory, payment_method, payment.account_id
                )
            return await self.processor.confirm_payment_intent(
                stripe_id(payment),
                idempotency_key=idempotency_key(payment.id, f"confirm:{request_id}"),
                payment_method=payment_method or None,
            )

        request = MutationRequest.of(caller, "ConfirmPayment", request_id, fields)
        return await self._mutate(caller, request, payment_id, call)

    async def capture(
        self, caller: Caller, request_id: str, payment_id: str, amount_to_capture: int | None = None
    ) -> Payment:
        check = Violations()
        if amount_to_capture is not None:
            check.amount(amount_to_capture, "amount_to_capture")
        _checked(request_id, payment_id, check)
        fields = {"id": payment_id, "amount_to_capture": amount_to_capture}

        async def call(payment: Payment) -> RemotePaymentIntent:
            if payment.state is not PaymentState.REQUIRES_CAPTURE:
                raise InvalidTransition(
                    "payment", payment.id, payment.state.value, PaymentState.SUCCEEDED.value
                )
            if amount_to_capture is not None and amount_to_capture > payment.amount_capturable:
                too_much = Violations()
                too_much.add(
                    "amount_to_capture",
                    f"must be at most the capturable {payment.amount_capturable}",
                )
                too_much.raise_if_any()
            return await self.processor.capture_payment_intent(
                stripe_id(payment),
                idempotency_key=idempotency_key(payment.id, f"capture:{request_id}"),
                amount_to_capture=amount_to_capture,
            )

        request = MutationRequest.of(caller, "CapturePayment", request_id, fields)
        return await self._mutate(caller, request, payment_id, call)

    async def cancel(
        self, caller: Caller, request_id: str, payment_id: str, reason: str | None = None
    ) -> Payment:
        _checked(request_id, payment_id)

        async def call(payment: Payment) -> RemotePaymentIntent:
            if payment.state not in CANCELABLE:
                raise InvalidTransition(
                    "payment", payment.id, payment.state.value, PaymentState.CANCELED.value
                )
            return await self.processor.cancel_payment_intent(
                stripe_id(payment),
                idempotency_key=idempotency_key(payment.id, f"cancel:{request_id}"),
                reason=reason,
            )

        request = MutationRequest.of(
            caller, "CancelPayment", request_id, {"id": payment_id, "reason": reason}
        )
        return await self._mutate(caller, request, payment_id, call)

    async def _mutate(
        self, caller: Caller, request: MutationRequest, payment_id: str, call: StripeCall
    ) -> Payment:
        async with self._locks.hold((caller.sub, request.request_id)):
            async with self.store.uow_factory(read_only=True) as uow:
                answered = await recorded(uow, request)
                payment = await uow.payments.get(payment_id)
            if payment is None or not caller.may_access(payment.account_id):
                raise NotFound("payment", payment_id)
            if answered is not None:
                raise_recorded_decline(answered, payment.id)
                return payment
            action = f"payments.{request.method.removesuffix('Payment').lower()}"
            try:
                intent = await call(payment)
            except ProcessorCardDeclined as error:
                stored = await self.store.store_decline(payment.id, error, action)
                await self._ledger.remember_decline(request, stored.id, declined(stored, error))
                raise declined(stored, error) from None
            try:
                stored = await self._store_answer(caller, request, payment.id, intent, action)
            except Conflict:
                # Another replica answered the same request_id first; replay its answer.
                answered = await self._ledger.find(request)
                current = await self.store.load(payment.id)
                if answered is None:
                    raise RequestIdReused(request.request_id) from None
                raise_recorded_decline(answered, current.id)
                return current
            await self.store.publish(stored)
            return stored

    async def _store_answer(
        self,
        caller: Caller,
        request: MutationRequest,
        payment_id: str,
        intent: RemotePaymentIntent,
        action: str,
    ) -> Payment:
        async with self.store.uow_factory() as uow:
            stored = await self.store.locked(uow, payment_id)
            stored.apply_intent(intent, api_read_time())
            await uow.payments.update(stored)
            await record(uow, request, stored.id)
            await audit(uow, caller.sub, action, ("payment", stored.id))
            await uow.commit()
        return stored
