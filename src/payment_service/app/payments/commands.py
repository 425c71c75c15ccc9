"""ConfirmPayment, CapturePayment, CancelPayment: one state-changing Stripe call each,
remembered under the caller's request_id so a retry replays the first answer, or the
success a webhook brought meanwhile (app/common/mutation.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from payment_service.app.common.mutation import Attempt, Check, Mutations, Subject
from payment_service.app.common.replay import MutationRequest, raise_recorded_decline
from payment_service.app.common.validation import Violations, check_command
from payment_service.app.payments.create import check_payment_method_owner
from payment_service.app.payments.rules import CANCELABLE, CONFIRMABLE, declined, stripe_id
from payment_service.app.payments.store import PaymentStore
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.domain.caller import Caller
from payment_service.domain.clock import answer_time
from payment_service.domain.entities import Payment, RequestRecord
from payment_service.domain.errors import CardDeclined, InvalidTransition
from payment_service.domain.processor import ProcessorCardDeclined, RemotePaymentIntent
from payment_service.domain.states import PaymentState

_PAYMENTS: Subject[Payment] = Subject("payment", "payments", lambda uow: uow.payments)
# Where a confirmation has taken the payment past confirming.
_CONFIRMED = frozenset(
    {PaymentState.PROCESSING, PaymentState.REQUIRES_CAPTURE, PaymentState.SUCCEEDED}
)


def _confirmed(payment: Payment) -> bool:
    return payment.state in _CONFIRMED


def _captured(payment: Payment) -> bool:
    return payment.state is PaymentState.SUCCEEDED


def _canceled(payment: Payment) -> bool:
    return payment.state is PaymentState.CANCELED


def _declined_method(payment: Payment) -> str | None:
    """The card a declined payment was tried with: a confirmation without a new one tries it
    again (Stripe drops it from the PaymentIntent on a decline, e.g. the off-session charge
    that needed authentication and is now confirmed with the customer present)."""
    if payment.state is PaymentState.REQUIRES_PAYMENT_METHOD:
        return payment.payment_method
    return None


class _IntentCall(Protocol):
    """A state-changing PaymentIntent call with its command's own arguments bound."""

    def __call__(
        self, stripe_id: str, /, *, idempotency_key: str
    ) -> Awaitable[RemotePaymentIntent]: ...


def _require_state(payment: Payment, allowed: Collection[PaymentState], target: str) -> None:
    if payment.state not in allowed:
        raise InvalidTransition("payment", payment.id, payment.state.value, target)


@dataclass
class PaymentCommands:
    store: PaymentStore
    processor: PaymentProcessor
    failpoints: Failpoints = NO_FAILPOINTS

    def __post_init__(self) -> None:
        answers = PaymentAnswers(self.store)
        self._mutations = Mutations(self.store.uow_factory, _PAYMENTS, answers, self.failpoints)

    async def confirm(
        self, caller: Caller, request_id: str, payment_id: str, payment_method: str = ""
    ) -> Payment:
        check = Violations()
        check.payment_method(payment_method, required=False)
        check_command(request_id, payment_id, "pay", check)
        fields = {"id": payment_id, "payment_method": payment_method}
        request = MutationRequest.of(caller, "ConfirmPayment", request_id, fields)

        def confirmable(payment: Payment) -> None:
            _require_state(payment, CONFIRMABLE, "confirmed")

        async def confirmable_with_card(payment: Payment) -> None:
            confirmable(payment)
            await check_payment_method_owner(
                self.store.uow_factory, payment_method, payment.account_id
            )

        async def call(payment: Payment, key: str) -> RemotePaymentIntent:
            return await self.processor.confirm_payment_intent(
                stripe_id(payment),
                idempotency_key=key,
                payment_method=payment_method or _declined_method(payment),
            )

        checks: Check[Payment] = confirmable_with_card if payment_method else confirmable
        return await self._mutations.run(caller, request, payment_id, call, _confirmed, checks)

    async def capture(
        self, caller: Caller, request_id: str, payment_id: str, amount_to_capture: int | None = None
    ) -> Payment:
        check = Violations()
        if amount_to_capture is not None:
            check.amount(amount_to_capture, "amount_to_capture")
        check_command(request_id, payment_id, "pay", check)
        fields = {"id": payment_id, "amount_to_capture": amount_to_capture}
        request = MutationRequest.of(caller, "CapturePayment", request_id, fields)

        def capturable(payment: Payment) -> None:
            _require_state(payment, {PaymentState.REQUIRES_CAPTURE}, PaymentState.SUCCEEDED.value)
            if amount_to_capture is not None and amount_to_capture > payment.amount_capturable:
                too_much = Violations()
                too_much.add(
                    "amount_to_capture",
                    f"must be at most the capturable {payment.amount_capturable}",
                )
                too_much.raise_if_any()

        send = partial(self.processor.capture_payment_intent, amount_to_capture=amount_to_capture)
        return await self._run(caller, request, payment_id, send, _captured, capturable)

    async def cancel(
        self, caller: Caller, request_id: str, payment_id: str, reason: str | None = None
    ) -> Payment:
        check_command(request_id, payment_id, "pay")
        fields = {"id": payment_id, "reason": reason}
        request = MutationRequest.of(caller, "CancelPayment", request_id, fields)

        def cancelable(payment: Payment) -> None:
            _require_state(payment, CANCELABLE, PaymentState.CANCELED.value)

        send = partial(self.processor.cancel_payment_intent, reason=reason)
        return await self._run(caller, request, payment_id, send, _canceled, cancelable)

    async def _run(
        self,
        caller: Caller,
        request: MutationRequest,
        payment_id: str,
        send: _IntentCall,
        reached: Callable[[Payment], bool],
        check: Check[Payment],
    ) -> Payment:
        """The command as a mutation of the payment: ``send`` called on its PaymentIntent."""

        async def call(payment: Payment, key: str) -> RemotePaymentIntent:
            return await send(stripe_id(payment), idempotency_key=key)

        return await self._mutations.run(caller, request, payment_id, call, reached, check)


@dataclass
class PaymentAnswers:
    """How Stripe's answers to a payment command are kept."""

    payments: PaymentStore

    async def store(self, attempt: Attempt, remote: RemotePaymentIntent) -> Payment:
        def apply(payment: Payment) -> None:
            payment.apply_intent(remote, answer_time())

        known = attempt.known if isinstance(attempt.known, Payment) else None
        async with self.payments.uow_factory() as uow:
            stored = await self.payments.changed(uow, attempt.object_id, apply, known)
            await attempt.answered(uow)
            await uow.commit()
        await self.payments.publish(stored)
        return stored

    async def declined(
        self, attempt: Attempt, target: Payment, error: CardDeclined
    ) -> CardDeclined:
        if not isinstance(error, ProcessorCardDeclined):
            return error
        stored = await self.payments.store_decline(target.id, error, attempt.action)
        answer = declined(stored, error)
        await attempt.declined(answer)
        return answer

    def replay(self, answered: RequestRecord, target: Payment) -> None:
        raise_recorded_decline(answered, target.id)
