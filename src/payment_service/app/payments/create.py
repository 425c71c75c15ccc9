"""CreatePayment, and finishing a PENDING payment (the reconciler's part).

DESIGN §5: the local row is committed as PENDING first, then Stripe is called
with an idempotency key derived from the row id, then Stripe's answer is
stored. Only one caller at a time talks to Stripe for a row (an in-process
lock per request plus the Stripe-call lease on the row across replicas), so
even a fake Stripe that ignores idempotency keys sees one call.
"""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.common.create_once import CreateOnce
from payment_service.app.common.replay import MutationRequest, raise_recorded_decline
from payment_service.app.common.trace_links import current_trace_parent
from payment_service.app.common.validation import MAX_DESCRIPTION_LENGTH, Violations
from payment_service.app.customers.accounts import Customers
from payment_service.app.payments.rules import (
    RESERVED_METADATA_KEYS,
    CreatePayment,
    PaymentRules,
    declined,
)
from payment_service.app.payments.store import PaymentStore
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.processor import PaymentProcessor, idempotency_key
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Customer, Payment
from payment_service.domain.errors import (
    DomainError,
    FailedPrecondition,
    NotFound,
    outcome_unknown,
)
from payment_service.domain.ids import new_id
from payment_service.domain.processor import ProcessorCardDeclined
from payment_service.domain.states import PaymentMethodState, PaymentState

METHOD = "CreatePayment"


@dataclass
class CreatePayments:
    store: PaymentStore
    processor: PaymentProcessor
    customers: Customers
    rules: PaymentRules
    failpoints: Failpoints = NO_FAILPOINTS

    def __post_init__(self) -> None:
        self._uow_factory = self.store.uow_factory
        self._once: CreateOnce[Payment] = CreateOnce(
            self.store.uow_factory,
            lambda uow: uow.payments,
            kind="payment",
            action="payments.create",
            lease_s=self.rules.stripe_lease_s,
            needs_call=lambda payment: payment.state is PaymentState.PENDING,
            busy_reason="PAYMENT_IN_PROGRESS",
        )
        self._ledger = self._once.ledger

    async def create(self, caller: Caller, command: CreatePayment) -> Payment:
        currency = self._validate(command)
        request = MutationRequest.of(caller, METHOD, command.request_id, command.fields(currency))
        caller.require_account(command.account_id)
        async with self._once.hold(request):
            payment, ours = await self._once.obtain(
                request,
                lambda: self._new_payment(caller, command, currency, request),
                new_in=lambda uow: self._new_payment_in(uow, command, currency, request),
            )
            if not ours and payment.state is not PaymentState.PENDING:
                return await self._replay(payment)
            return await self._submit(payment, first_attempt=ours)

    def _validate(self, command: CreatePayment) -> str:
        check = Violations()
        check.request_id(command.request_id)
        check.account_id(command.account_id)
        currency = check.currency(command.currency, self.rules.currencies)
        check.charge_amount(command.amount, currency)
        check.payment_method(command.payment_method, required=False)
        check.free_text(command.description, "description", MAX_DESCRIPTION_LENGTH)
        check.email(command.receipt_email, "receipt_email")
        check.metadata(command.metadata, reserved_keys=RESERVED_METADATA_KEYS)
        if command.off_session and command.setup_future_usage is not None:
            check.add("setup_future_usage", "cannot be set on an off_session payment")
        check.raise_if_any()
        return currency

    async def _new_payment_in(
        self,
        uow: UnitOfWork,
        command: CreatePayment,
        currency: str,
        request: MutationRequest,
    ) -> Payment | None:
        """The new payment from what the database holds, in the insert's transaction;
        None when the account's Stripe customer is still to be made (a Stripe call)."""
        _, customer = await uow.together(
            require_payment_method_owner(uow, command.payment_method, command.account_id),
            uow.customers.get_by_account(command.account_id),
        )
        if customer is None or customer.stripe_customer_id is None:
            return None
        payment_method = command.payment_method or await attached_payment_method(
            uow, customer.default_payment_method_id
        )
        return self._payment(command, currency, request, customer, payment_method)

    async def _new_payment(
        self, caller: Caller, command: CreatePayment, currency: str, request: MutationRequest
    ) -> Payment:
        if command.payment_method:
            await check_payment_method_owner(
                self.store.uow_factory, command.payment_method, command.account_id
            )
        customer = await self.customers.get_or_create(caller, command.account_id)
        payment_method = command.payment_method or await default_payment_method(
            self._uow_factory, customer.default_payment_method_id
        )
        return self._payment(command, currency, request, customer, payment_method)

    @staticmethod
    def _payment(
        command: CreatePayment,
        currency: str,
        request: MutationRequest,
        customer: Customer,
        payment_method: str | None,
    ) -> Payment:
        if command.off_session and payment_method is None:
            raise FailedPrecondition(
                "an off_session payment needs a saved payment method; the account has none",
                reason="PAYMENT_METHOD_REQUIRED",
                metadata={"account_id": command.account_id},
            )
        return Payment(
            id=new_id("pay"),
            account_id=command.account_id,
            customer_id=customer.id,
            **request.origin(),
            amount=command.amount,
            currency=currency,
            capture_method=command.capture_method,
            payment_method=payment_method,
            description=command.description or None,
            receipt_email=command.receipt_email or None,
            stripe_customer_id=customer.stripe_customer_id,
            metadata=dict(command.metadata),
            confirm_on_create=command.confirm or command.off_session,
            off_session=command.off_session,
            setup_future_usage=command.setup_future_usage,
            trace_parent=current_trace_parent(),
        )

    async def _submit(self, payment: Payment, *, first_attempt: bool) -> Payment:
        """Send a PENDING payment to Stripe once, or wait for whoever is doing it.

        A later attempt first looks for a PaymentIntent an earlier one made (its
        answer may have been lost to a crash, a timeout or a cancelled call), so
        even a Stripe that ignored idempotency keys would see one PaymentIntent.
        """
        # A row this request just inserted comes with the lease; any other attempt claims it.
        claimed = payment if first_attempt else await self._once.claim(payment.id)
        if claimed.state is not PaymentState.PENDING:
            return await self._replay(claimed)
        try:
            async with self._once.calling(claimed.id):
                found = None
                if not first_attempt:
                    found = await self.processor.find_payment_intent_by_payment_id(
                        claimed.id, customer=claimed.stripe_customer_id
                    )
                intent = found or await self.processor.create_payment_intent(
                    claimed.intent_request(), idempotency_key=idempotency_key(claimed.id, "create")
                )
        except ProcessorCardDeclined as error:
            stored = await self.store.store_decline(claimed.id, error, self._once.action)
            answer = declined(stored, error)
            request = MutationRequest.that_made(METHOD, claimed)
            await self._ledger.remember_decline(request, stored.id, answer)
            raise answer from None
        except DomainError as error:
            if outcome_unknown(error):
                raise
            stored = await self.store.store_rejection(claimed.id, error)
            error.metadata.setdefault("payment_id", stored.id)
            raise error from None
        self.failpoints.hit("payments.create.after_stripe")
        return await self.store.store_intent(claimed.id, intent, known=claimed)

    async def finish_pending(self, payment_id: str) -> Payment:
        """Reconciler: settle a PENDING payment left by a crash or an outage, with one PaymentIntent.

        Stripe is first searched for a PaymentIntent carrying our id (the crash
        may have come after Stripe created it); only when there is none is the
        create repeated, with the same idempotency key as the first attempt.
        A decline or a refusal is stored, not raised; Unavailable is raised.
        """
        return await self._once.finish(
            lambda: self.store.load(payment_id),
            lambda payment: self._submit(payment, first_attempt=False),
        )

    async def _replay(self, payment: Payment) -> Payment:
        """The answer CreatePayment gave: a decline is raised again, anything else is the payment."""
        async with self._uow_factory(read_only=True) as uow:
            record = await uow.request_records.get(payment.caller, payment.request_id)
        if record is not None and record.method == METHOD:
            raise_recorded_decline(record, payment.id)
            return payment
        if payment.state is PaymentState.FAILED:
            raise FailedPrecondition(
                payment.last_error_message or "Stripe refused the payment",
                reason="PAYMENT_FAILED",
                metadata={"payment_id": payment.id, "code": payment.last_error_code or ""},
            )
        return payment


async def check_payment_method_owner(
    uow_factory: UnitOfWorkFactory, stripe_payment_method_id: str, account_id: str
) -> None:
    """A saved payment method of another account (or a detached one) is not there for this one."""
    async with uow_factory(read_only=True) as uow:
        await require_payment_method_owner(uow, stripe_payment_method_id, account_id)


async def require_payment_method_owner(
    uow: UnitOfWork, stripe_payment_method_id: str | None, account_id: str
) -> None:
    """``check_payment_method_owner`` in a transaction of the caller's (none given: no check)."""
    if not stripe_payment_method_id:
        return
    method = await uow.payment_methods.find_by_stripe_id(stripe_payment_method_id)
    if method is not None and (
        method.account_id != account_id or method.state is not PaymentMethodState.ATTACHED
    ):
        raise NotFound("payment_method", stripe_payment_method_id)


async def default_payment_method(
    uow_factory: UnitOfWorkFactory, payment_method_id: str | None
) -> str | None:
    """The Stripe id of a customer's default payment method, while it is still attached."""
    if payment_method_id is None:
        return None
    async with uow_factory(read_only=True) as uow:
        return await attached_payment_method(uow, payment_method_id)


async def attached_payment_method(uow: UnitOfWork, payment_method_id: str | None) -> str | None:
    """``default_payment_method`` in a transaction of the caller's."""
    if payment_method_id is None:
        return None
    method = await uow.payment_methods.get(payment_method_id)
    if method is None or method.state is not PaymentMethodState.ATTACHED:
        return None
    return method.stripe_payment_method_id
