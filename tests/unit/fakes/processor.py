"""``FakeStripe``: the PaymentProcessor port in memory (see ``stripe_base`` for idempotency,
test cards, switches, and where it deliberately differs from Stripe)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from payment_service.app.ports.processor import EventListing, NewCustomer, NewRefund
from payment_service.domain.errors import InvalidArgument
from payment_service.domain.money import Money
from payment_service.domain.processor import (
    EventPage,
    NewPaymentIntent,
    ProcessorCardDeclined,
    RemoteCharge,
    RemoteCustomer,
    RemoteEvent,
    RemotePaymentError,
    RemotePaymentIntent,
    RemotePaymentMethod,
    RemoteRefund,
)
from payment_service.domain.states import CaptureMethod, PaymentState, RefundState
from tests.unit.fakes.stripe_base import (
    CANCEL_REASONS,
    CANCELABLE,
    CONFIRMABLE,
    COUNTED_REFUND_STATES,
    UNEXPECTED_STATE,
    Card,
    StripeBase,
    stripe_error,
)

__all__ = ["Card", "FakeStripe"]


class FakeStripe(StripeBase):
    # --- customers -------------------------------------------------------------------------
    async def create_customer(
        self, customer: NewCustomer, *, idempotency_key: str
    ) -> RemoteCustomer:
        params = (
            customer.account_id,
            customer.email,
            customer.name,
            sorted(customer.metadata.items()),
        )

        def create() -> RemoteCustomer:
            made = RemoteCustomer(
                self._new_id("cus"),
                customer.email,
                customer.name,
                None,
                {**customer.metadata, "account_id": customer.account_id},
                self._now(),
            )
            self.customers[made.stripe_id] = made
            return made

        return await self._call(
            "create_customer",
            lambda: self._idempotent("create_customer", idempotency_key, params, create),
        )

    def _customer(self, operation: str, customer_id: str) -> RemoteCustomer:
        if customer_id not in self.customers:
            raise stripe_error(
                operation, "customer", customer_id, code="resource_missing", param="id", message=""
            )
        return self.customers[customer_id]

    async def retrieve_customer(self, customer_id: str) -> RemoteCustomer:
        return await self._call(
            "retrieve_customer", lambda: self._customer("retrieve_customer", customer_id)
        )

    async def set_default_payment_method(
        self, customer_id: str, payment_method_id: str, *, idempotency_key: str
    ) -> RemoteCustomer:
        operation = "set_default_payment_method"

        def update() -> RemoteCustomer:
            customer = self._customer(operation, customer_id)
            method = self.payment_methods.get(payment_method_id)
            if method is None or method.customer != customer_id:
                raise stripe_error(
                    operation,
                    "customer",
                    customer_id,
                    code="resource_missing",
                    param="invoice_settings[default_payment_method]",
                    message="The customer does not have a payment method with that id.",
                )
            updated = dataclasses.replace(customer, default_payment_method=payment_method_id)
            self.customers[customer_id] = updated
            return updated

        params = (customer_id, payment_method_id)
        return await self._call(
            operation, lambda: self._idempotent(operation, idempotency_key, params, update)
        )

    # --- payment methods ----------------------------------------------------------------------
    def _method(
        self, operation: str, payment_method_id: str, about: tuple[str, str] | None = None
    ) -> RemotePaymentMethod:
        """The payment method (a test card is made on first use); ``about``: the call's
        (resource, id) when it is another object's call (the gateway's NotFound names that)."""
        method = self.payment_methods.get(payment_method_id)
        if method is not None:
            return method
        card = self._cards.get(payment_method_id)
        if card is None:
            resource, resource_id = about or ("payment_method", payment_method_id)
            raise stripe_error(
                operation,
                resource,
                resource_id,
                code="resource_missing",
                param="payment_method",
                message="No such PaymentMethod.",
            )
        method = RemotePaymentMethod(
            payment_method_id,
            "card",
            None,
            card.brand,
            card.last4,
            12,
            2034,
            f"fp_{card.brand}_{card.last4}",
            None,
            {},
            self._now(),
        )
        self.payment_methods[payment_method_id] = method
        return method

    async def attach_payment_method(
        self, payment_method_id: str, *, customer: str, idempotency_key: str
    ) -> RemotePaymentMethod:
        operation = "attach_payment_method"

        def attach() -> RemotePaymentMethod:
            self._customer(operation, customer)
            method = dataclasses.replace(
                self._method(operation, payment_method_id), customer=customer
            )
            self.payment_methods[payment_method_id] = method
            return method

        params = (payment_method_id, customer)
        return await self._call(
            operation, lambda: self._idempotent(operation, idempotency_key, params, attach)
        )

    async def detach_payment_method(
        self, payment_method_id: str, *, idempotency_key: str
    ) -> RemotePaymentMethod:
        operation = "detach_payment_method"

        def detach() -> RemotePaymentMethod:
            method = self._method(operation, payment_method_id)
            if method.customer is None:
                raise stripe_error(
                    operation,
                    "payment_method",
                    payment_method_id,
                    code="payment_method_unexpected_state",
                    param="",
                    message="The payment method is not attached to a customer.",
                )
            detached = dataclasses.replace(method, customer=None)
            self.payment_methods[payment_method_id] = detached
            return detached

        return await self._call(
            operation,
            lambda: self._idempotent(operation, idempotency_key, payment_method_id, detach),
        )

    async def retrieve_payment_method(self, payment_method_id: str) -> RemotePaymentMethod:
        operation = "retrieve_payment_method"
        return await self._call(operation, lambda: self._method(operation, payment_method_id))

    # --- payment intents -------------------------------------------------------------------
    def _intent(self, operation: str, stripe_id: str) -> RemotePaymentIntent:
        intent = self.payment_intents.get(stripe_id)
        if intent is None:
            raise stripe_error(
                operation,
                "payment_intent",
                stripe_id,
                code="resource_missing",
                param="intent",
                message="No such payment_intent.",
            )
        return intent

    def _state_error(self, operation: str, intent: RemotePaymentIntent, doing: str) -> Exception:
        return stripe_error(
            operation,
            "payment_intent",
            intent.stripe_id,
            code=UNEXPECTED_STATE,
            param="",
            message=f"This PaymentIntent's status is {intent.state.value}; it cannot be {doing}.",
        )

    def _new_intent(self, new: NewPaymentIntent) -> RemotePaymentIntent:
        operation = "create_payment_intent"
        problem = Money(new.amount, new.currency).charge_problem()
        if problem is not None:
            raise stripe_error(
                operation,
                "payment_intent",
                "",
                code="amount_too_small",
                param="amount",
                message=f"Amount {problem}.",
            )
        if new.customer is not None and new.customer not in self.customers:
            raise stripe_error(
                operation,
                "payment_intent",
                "",
                code="resource_missing",
                param="customer",
                message="No such customer.",
            )
        if new.confirm and new.payment_method is None:
            raise stripe_error(
                operation,
                "payment_intent",
                "",
                code=UNEXPECTED_STATE,
                param="",
                message="A PaymentIntent cannot be confirmed without a payment method.",
            )
        if new.payment_method is not None:
            self._method(operation, new.payment_method, ("payment_intent", ""))
        stripe_id = self._new_id("pi")
        intent = RemotePaymentIntent(
            stripe_id=stripe_id,
            state=PaymentState.REQUIRES_CONFIRMATION
            if new.payment_method
            else PaymentState.REQUIRES_PAYMENT_METHOD,
            amount=new.amount,
            currency=new.currency.lower(),
            amount_capturable=0,
            amount_received=0,
            capture_method=new.capture_method,
            customer=new.customer,
            payment_method=new.payment_method,
            client_secret=f"{stripe_id}_secret_fake",
            next_action_type=None,
            next_action_url=None,
            last_error=None,
            receipt_url=None,
            latest_charge_id=None,
            amount_refunded=None,
            metadata={**new.metadata, "payment_id": new.payment_id},
            created=self._now(),
            description=new.description,
        )
        self.payment_intents[stripe_id] = intent
        if not new.confirm or new.payment_method is None:
            return intent
        return self._attempt_charge(intent, new.payment_method)

    def _attempt_charge(self, intent: RemotePaymentIntent, method: str) -> RemotePaymentIntent:
        """Confirm: 3-D Secure first when the card wants it, then charge or decline."""
        card = self._cards.get(method, Card("visa", "4242"))
        if card.needs_action and intent.state is not PaymentState.REQUIRES_ACTION:
            return self._store_intent(
                intent,
                state=PaymentState.REQUIRES_ACTION,
                payment_method=method,
                next_action_type="use_stripe_sdk",
                last_error=None,
            )
        decline = self._next_decline(card)
        manual = intent.capture_method is CaptureMethod.MANUAL
        charge = self._new_charge(intent, declined=decline is not None, captured=not manual)
        if decline is not None:
            error = RemotePaymentError(decline.code, decline.decline_code, decline.message)
            declined = self._store_intent(
                intent,
                state=PaymentState.REQUIRES_PAYMENT_METHOD,
                payment_method=None,
                last_error=error,
                latest_charge_id=charge.stripe_id,
                amount_refunded=0,
                next_action_type=None,
            )
            raise ProcessorCardDeclined(
                decline.message,
                code=decline.code,
                decline_code=decline.decline_code,
                payment_id=declined.payment_id or "",
                payment_intent=declined,
            )
        return self._store_intent(
            intent,
            state=PaymentState.REQUIRES_CAPTURE if manual else PaymentState.SUCCEEDED,
            payment_method=method,
            amount_capturable=intent.amount if manual else 0,
            amount_received=0 if manual else intent.amount,
            latest_charge_id=charge.stripe_id,
            receipt_url=charge.receipt_url,
            amount_refunded=0,
            last_error=None,
            next_action_type=None,
        )

    def _new_charge(
        self, intent: RemotePaymentIntent, *, declined: bool, captured: bool
    ) -> RemoteCharge:
        stripe_id = self._new_id("ch")
        charge = RemoteCharge(
            stripe_id=stripe_id,
            payment_intent=intent.stripe_id,
            amount=intent.amount,
            amount_captured=intent.amount if captured and not declined else 0,
            amount_refunded=0,
            currency=intent.currency,
            status="failed" if declined else "succeeded",
            captured=captured and not declined,
            failure_code="card_declined" if declined else None,
            failure_message="Your card was declined." if declined else None,
            receipt_url=None if declined else f"https://pay.stripe.com/receipts/{stripe_id}",
            created=self._now(),
        )
        self.charges[stripe_id] = charge
        return charge

    def _store_intent(self, intent: RemotePaymentIntent, **changes: Any) -> RemotePaymentIntent:
        stored = dataclasses.replace(intent, **changes)
        self.payment_intents[intent.stripe_id] = stored
        return stored

    async def create_payment_intent(
        self, intent: NewPaymentIntent, *, idempotency_key: str
    ) -> RemotePaymentIntent:
        operation = "create_payment_intent"
        return await self._call(
            operation,
            lambda: self._idempotent(
                operation, idempotency_key, intent, lambda: self._new_intent(intent)
            ),
        )

    async def confirm_payment_intent(
        self, stripe_id: str, *, idempotency_key: str, payment_method: str | None = None
    ) -> RemotePaymentIntent:
        operation = "confirm_payment_intent"

        def confirm() -> RemotePaymentIntent:
            intent = self._intent(operation, stripe_id)
            if intent.state not in CONFIRMABLE:
                raise self._state_error(operation, intent, "confirmed")
            method = payment_method or intent.payment_method
            if method is None:
                raise self._state_error(operation, intent, "confirmed without a payment method")
            self._method(operation, method, ("payment_intent", stripe_id))
            return self._attempt_charge(intent, method)

        params = (stripe_id, payment_method)
        return await self._call(
            operation, lambda: self._idempotent(operation, idempotency_key, params, confirm)
        )

    async def capture_payment_intent(
        self, stripe_id: str, *, idempotency_key: str, amount_to_capture: int | None = None
    ) -> RemotePaymentIntent:
        if amount_to_capture is not None and amount_to_capture <= 0:
            raise InvalidArgument.field("amount_to_capture", "must be positive")
        operation = "capture_payment_intent"

        def capture() -> RemotePaymentIntent:
            intent = self._intent(operation, stripe_id)
            if intent.state is not PaymentState.REQUIRES_CAPTURE:
                raise self._state_error(operation, intent, "captured")
            amount = intent.amount_capturable if amount_to_capture is None else amount_to_capture
            if amount > intent.amount_capturable:
                raise stripe_error(
                    operation,
                    "payment_intent",
                    stripe_id,
                    code="amount_too_large",
                    param="amount_to_capture",
                    message="Amount exceeds the capturable amount.",
                )
            if intent.latest_charge_id is not None:
                charge = self.charges[intent.latest_charge_id]
                self.charges[charge.stripe_id] = dataclasses.replace(
                    charge, captured=True, amount_captured=amount
                )
            return self._store_intent(
                intent, state=PaymentState.SUCCEEDED, amount_capturable=0, amount_received=amount
            )

        params = (stripe_id, amount_to_capture)
        return await self._call(
            operation, lambda: self._idempotent(operation, idempotency_key, params, capture)
        )

    async def cancel_payment_intent(
        self, stripe_id: str, *, idempotency_key: str, reason: str | None = None
    ) -> RemotePaymentIntent:
        if reason and reason not in CANCEL_REASONS:
            raise InvalidArgument.field("reason", f"must be one of {sorted(CANCEL_REASONS)}")
        operation = "cancel_payment_intent"

        def cancel() -> RemotePaymentIntent:
            intent = self._intent(operation, stripe_id)
            if intent.state not in CANCELABLE:
                raise self._state_error(operation, intent, "canceled")
            return self._store_intent(
                intent,
                state=PaymentState.CANCELED,
                amount_capturable=0,
                canceled_at=self._now(),
                cancellation_reason=reason or None,
                next_action_type=None,
            )

        params = (stripe_id, reason)
        return await self._call(
            operation, lambda: self._idempotent(operation, idempotency_key, params, cancel)
        )

    async def retrieve_payment_intent(self, stripe_id: str) -> RemotePaymentIntent:
        operation = "retrieve_payment_intent"
        return await self._call(operation, lambda: self._intent(operation, stripe_id))

    async def find_payment_intent_by_payment_id(
        self, payment_id: str, *, customer: str | None = None
    ) -> RemotePaymentIntent | None:
        def find() -> RemotePaymentIntent | None:
            for intent in self.payment_intents.values():
                if intent.payment_id == payment_id and customer in (None, intent.customer):
                    return intent
            return None

        return await self._call("find_payment_intent_by_payment_id", find)

    # --- charges and refunds ---------------------------------------------------------------
    async def retrieve_charge(self, charge_id: str) -> RemoteCharge:
        def retrieve() -> RemoteCharge:
            if charge_id not in self.charges:
                raise stripe_error(
                    "retrieve_charge",
                    "charge",
                    charge_id,
                    code="resource_missing",
                    param="id",
                    message="No such charge.",
                )
            return self.charges[charge_id]

        return await self._call("retrieve_charge", retrieve)

    def _refunded(self, payment_intent: str) -> int:
        """What Stripe counts as refunded: refunds not failed or canceled."""
        return sum(
            r.amount
            for r in self.refunds.values()
            if r.payment_intent == payment_intent and r.state in COUNTED_REFUND_STATES
        )

    def _sync_refunded(self, payment_intent: str) -> None:
        intent = self.payment_intents[payment_intent]
        refunded = self._refunded(payment_intent)
        self._store_intent(intent, amount_refunded=refunded)
        if intent.latest_charge_id is not None:
            charge = self.charges[intent.latest_charge_id]
            self.charges[charge.stripe_id] = dataclasses.replace(charge, amount_refunded=refunded)

    def _new_refund(self, refund: NewRefund) -> RemoteRefund:
        operation = "create_refund"
        intent = self.payment_intents.get(refund.payment_intent)
        if intent is None:
            raise stripe_error(
                operation,
                "refund",
                "",
                code="resource_missing",
                param="payment_intent",
                message="No such payment_intent.",
            )
        if intent.state is not PaymentState.SUCCEEDED or intent.latest_charge_id is None:
            raise self._state_error(operation, intent, "refunded")
        remaining = intent.amount_received - self._refunded(refund.payment_intent)
        if remaining <= 0:
            raise stripe_error(
                operation,
                "refund",
                "",
                code="charge_already_refunded",
                param="",
                message="The charge has already been refunded.",
            )
        if refund.amount is not None and refund.amount > remaining:
            raise stripe_error(
                operation,
                "refund",
                "",
                code="amount_too_large",
                param="amount",
                message=(
                    f"Refund amount {refund.amount} is greater than the unrefunded {remaining}."
                ),
            )
        made = RemoteRefund(
            stripe_id=self._new_id("re"),
            payment_intent=refund.payment_intent,
            charge=intent.latest_charge_id,
            amount=remaining if refund.amount is None else refund.amount,
            currency=intent.currency,
            state=self.next_refund_state,
            reason=refund.reason,
            failure_reason=None,
            metadata={**refund.metadata, "refund_id": refund.refund_id},
            created=self._now(),
        )
        self.refunds[made.stripe_id] = made
        self._sync_refunded(refund.payment_intent)
        return made

    def settle_refund(
        self, stripe_id: str, state: RefundState, failure_reason: str | None = None
    ) -> RemoteRefund:
        refund = dataclasses.replace(
            self.refunds[stripe_id], state=state, failure_reason=failure_reason
        )
        self.refunds[stripe_id] = refund
        if refund.payment_intent is not None:
            self._sync_refunded(refund.payment_intent)
        return refund

    async def create_refund(self, refund: NewRefund, *, idempotency_key: str) -> RemoteRefund:
        operation = "create_refund"
        params = (
            refund.refund_id,
            refund.payment_intent,
            refund.amount,
            refund.reason,
            sorted(refund.metadata.items()),
        )
        return await self._call(
            operation,
            lambda: self._idempotent(
                operation, idempotency_key, params, lambda: self._new_refund(refund)
            ),
        )

    async def retrieve_refund(self, refund_stripe_id: str) -> RemoteRefund:
        def retrieve() -> RemoteRefund:
            if refund_stripe_id not in self.refunds:
                raise stripe_error(
                    "retrieve_refund",
                    "refund",
                    refund_stripe_id,
                    code="resource_missing",
                    param="id",
                    message="No such refund.",
                )
            return self.refunds[refund_stripe_id]

        return await self._call("retrieve_refund", retrieve)

    async def list_refunds(self, payment_intent: str) -> Sequence[RemoteRefund]:
        """Every refund of the PaymentIntent, newest first as Stripe lists them."""

        def listed() -> list[RemoteRefund]:
            self._intent("list_refunds", payment_intent)
            found = [r for r in self.refunds.values() if r.payment_intent == payment_intent]
            return found[::-1]

        return await self._call("list_refunds", listed)

    # --- events ----------------------------------------------------------------------------
    async def list_events(self, listing: EventListing) -> EventPage:
        created_after = listing.created_after

        def page() -> EventPage:
            newest_first = [
                e
                for e in reversed(self.events)
                if created_after is None or e.created > created_after
            ]
            return _page_newest_first(
                newest_first, listing.starting_after, listing.ending_before, listing.limit
            )

        return await self._call("list_events", page)

    async def close(self) -> None:
        self.closed = True


def _page_newest_first(
    items: list[RemoteEvent], starting_after: str | None, ending_before: str | None, limit: int
) -> EventPage:
    """Stripe's cursors over a newest-first list (as adapters/stripe/compat.py pages them)."""
    ids = [item.stripe_id for item in items]
    if ending_before is not None:
        end = ids.index(ending_before) if ending_before in ids else 0
        start = max(0, end - limit)
        return EventPage(tuple(items[start:end]), start > 0)
    begin = ids.index(starting_after) + 1 if starting_after in ids else 0
    if starting_after is not None and starting_after not in ids:
        begin = len(items)
    return EventPage(tuple(items[begin : begin + limit]), begin + limit < len(items))
