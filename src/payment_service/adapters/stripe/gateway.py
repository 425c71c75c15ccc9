"""StripeGateway: the PaymentProcessor over one ``stripe.StripeClient`` and aiohttp.

Built once in the composition root from ``StripeGatewayConfig``; no global
``stripe.api_key``. Every call is async (stripe-python's ``*_async`` methods on
aiohttp) and goes through connection.py's one call path: the caller's idempotency
key on every POST, the timeout cut to the request's remaining deadline, every
Stripe error as a domain error (errors.py). Answers become snapshots in mapping.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from stripe.params import (
    CustomerCreateParams,
    PaymentIntentCancelParams,
    PaymentIntentCaptureParams,
    PaymentIntentConfirmParams,
    PaymentIntentCreateParams,
    RefundCreateParams,
    RefundListParams,
)

from payment_service.adapters.stripe import compat, mapping
from payment_service.adapters.stripe.connection import PI_EXPAND, ObjectKind, StripeCalls
from payment_service.adapters.stripe.errors import CallContext
from payment_service.adapters.stripe.listing import PAGE_SIZE, each_listed
from payment_service.app.ports.processor import (
    ACCOUNT_ID_KEY,
    PAYMENT_ID_KEY,
    REFUND_ID_KEY,
    EventListing,
    NewCustomer,
    NewRefund,
)
from payment_service.domain.errors import InvalidArgument
from payment_service.domain.processor import (
    EventPage,
    NewPaymentIntent,
    RemoteCharge,
    RemoteCustomer,
    RemotePaymentIntent,
    RemotePaymentMethod,
    RemoteRefund,
)
from payment_service.domain.states import CaptureMethod

Snapshot = TypeVar("Snapshot")

CANCEL_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer", "abandoned"})

CUSTOMER = ObjectKind("customer", mapping.to_customer)
PAYMENT_METHOD = ObjectKind("payment_method", mapping.to_payment_method)
CHARGE = ObjectKind("charge", mapping.to_charge)
REFUND = ObjectKind("refund", mapping.to_refund)


class StripeGateway(StripeCalls):
    """Built from ``StripeGatewayConfig`` (its own connection) or a shared StripeConnection."""

    async def _mapped_raw(
        self,
        ctx: CallContext,
        call: Callable[[], Awaitable[mapping.Obj]],
        to: Callable[[mapping.Obj], Snapshot],
    ) -> Snapshot:
        """``_mapped`` for a call answering Stripe's JSON as it came (``compat.raw_post``)."""

        async def mapped() -> Snapshot:
            return to(await call())

        return await self._call(ctx, mapped)

    # --- customers ------------------------------------------------------------------------
    async def create_customer(
        self, customer: NewCustomer, *, idempotency_key: str
    ) -> RemoteCustomer:
        params: CustomerCreateParams = {
            "metadata": self._metadata(customer.metadata, **{ACCOUNT_ID_KEY: customer.account_id})
        }
        if customer.email:
            params["email"] = customer.email
        if customer.name:
            params["name"] = customer.name
        return await self._create(
            CUSTOMER, self._client.v1.customers.create_async, params, idempotency_key
        )

    async def retrieve_customer(self, customer_id: str) -> RemoteCustomer:
        return await self._retrieve(CUSTOMER, self._client.v1.customers.retrieve_async, customer_id)

    async def set_default_payment_method(
        self, customer_id: str, payment_method_id: str, *, idempotency_key: str
    ) -> RemoteCustomer:
        options = self._post(idempotency_key)
        return await self._mapped(
            CallContext("set_default_payment_method", "customer", customer_id),
            lambda: self._client.v1.customers.update_async(
                customer_id,
                {"invoice_settings": {"default_payment_method": payment_method_id}},
                options,
            ),
            mapping.to_customer,
        )

    # --- payment intents --------------------------------------------------------------------
    async def create_payment_intent(
        self, intent: NewPaymentIntent, *, idempotency_key: str
    ) -> RemotePaymentIntent:
        manual = intent.capture_method is CaptureMethod.MANUAL
        # Amounts go as is, in the currency's minor unit (JPY 500 -> 500).
        params: PaymentIntentCreateParams = {
            "amount": intent.amount,
            "currency": intent.currency.lower(),
            "capture_method": "manual" if manual else "automatic",
            # Cards only, confirmed by the server: no redirect-based methods, no return_url.
            "allowed_payment_method_types": ["card"],
            "metadata": self._metadata(intent.metadata, **{PAYMENT_ID_KEY: intent.payment_id}),
            "expand": PI_EXPAND,
        }
        if intent.customer:
            params["customer"] = intent.customer
        if intent.payment_method:
            params["payment_method"] = intent.payment_method
        if intent.confirm or intent.off_session:
            params["confirm"] = True
        if intent.off_session:
            params["off_session"] = True
        if intent.setup_future_usage is not None:
            params["setup_future_usage"] = intent.setup_future_usage.value
        if intent.description:
            params["description"] = intent.description
        if intent.receipt_email:
            params["receipt_email"] = intent.receipt_email
        shaped = self._shape.payment_intent_create(params)
        options = self._post(idempotency_key)
        return await self._mapped_raw(
            CallContext("create_payment_intent", "payment_intent"),
            lambda: compat.raw_post(self._client, "/v1/payment_intents", shaped, options),
            mapping.to_payment_intent,
        )

    async def confirm_payment_intent(
        self, stripe_id: str, *, idempotency_key: str, payment_method: str | None = None
    ) -> RemotePaymentIntent:
        params: PaymentIntentConfirmParams = {"expand": PI_EXPAND}
        if payment_method:
            params["payment_method"] = payment_method
        options = self._post(idempotency_key)
        return await self._mapped_raw(
            CallContext("confirm_payment_intent", "payment_intent", stripe_id),
            lambda: self._shape.confirm_payment_intent(self._client, stripe_id, params, options),
            mapping.to_payment_intent,
        )

    async def capture_payment_intent(
        self, stripe_id: str, *, idempotency_key: str, amount_to_capture: int | None = None
    ) -> RemotePaymentIntent:
        params: PaymentIntentCaptureParams = {"expand": PI_EXPAND}
        if amount_to_capture is not None:
            if amount_to_capture <= 0:
                raise InvalidArgument.field("amount_to_capture", "must be positive")
            params["amount_to_capture"] = amount_to_capture
        options = self._post(idempotency_key)
        return await self._mapped(
            CallContext("capture_payment_intent", "payment_intent", stripe_id),
            lambda: self._client.v1.payment_intents.capture_async(stripe_id, params, options),
            mapping.to_payment_intent,
        )

    async def cancel_payment_intent(
        self, stripe_id: str, *, idempotency_key: str, reason: str | None = None
    ) -> RemotePaymentIntent:
        params: PaymentIntentCancelParams = {"expand": PI_EXPAND}
        if reason:
            if reason not in CANCEL_REASONS:
                raise InvalidArgument.field("reason", f"must be one of {sorted(CANCEL_REASONS)}")
            params["cancellation_reason"] = reason
        shaped = self._shape.payment_intent_cancel(params)
        options = self._post(idempotency_key)
        return await self._mapped(
            CallContext("cancel_payment_intent", "payment_intent", stripe_id),
            lambda: self._client.v1.payment_intents.cancel_async(stripe_id, shaped, options),
            mapping.to_payment_intent,
        )

    async def retrieve_payment_intent(self, stripe_id: str) -> RemotePaymentIntent:
        return await self._call(
            CallContext("retrieve_payment_intent", "payment_intent", stripe_id),
            lambda: self._retrieve_payment_intent(stripe_id),
        )

    async def find_payment_intent_by_payment_id(
        self, payment_id: str, *, customer: str | None = None
    ) -> RemotePaymentIntent | None:
        async def call() -> RemotePaymentIntent | None:
            data = await self._shape.find_payment_intent(
                self._client, payment_id, customer, PI_EXPAND
            )
            return mapping.to_payment_intent(data) if data is not None else None

        return await self._call(
            CallContext("find_payment_intent", "payment_intent", payment_id), call
        )

    # --- payment methods ----------------------------------------------------------------------
    async def attach_payment_method(
        self, payment_method_id: str, *, customer: str, idempotency_key: str
    ) -> RemotePaymentMethod:
        options = self._post(idempotency_key)
        return await self._mapped(
            CallContext("attach_payment_method", "payment_method", payment_method_id),
            lambda: self._client.v1.payment_methods.attach_async(
                payment_method_id, {"customer": customer}, options
            ),
            mapping.to_payment_method,
        )

    async def detach_payment_method(
        self, payment_method_id: str, *, idempotency_key: str
    ) -> RemotePaymentMethod:
        options = self._post(idempotency_key)
        return await self._mapped(
            CallContext("detach_payment_method", "payment_method", payment_method_id),
            lambda: self._client.v1.payment_methods.detach_async(payment_method_id, None, options),
            mapping.to_payment_method,
        )

    async def retrieve_payment_method(self, payment_method_id: str) -> RemotePaymentMethod:
        return await self._retrieve(
            PAYMENT_METHOD, self._client.v1.payment_methods.retrieve_async, payment_method_id
        )

    # --- charges and refunds --------------------------------------------------------------------
    async def retrieve_charge(self, charge_id: str) -> RemoteCharge:
        return await self._retrieve(CHARGE, self._client.v1.charges.retrieve_async, charge_id)

    async def create_refund(self, refund: NewRefund, *, idempotency_key: str) -> RemoteRefund:
        params: RefundCreateParams = {
            "payment_intent": refund.payment_intent,
            "metadata": self._metadata(refund.metadata, **{REFUND_ID_KEY: refund.refund_id}),
        }
        if refund.amount is not None:
            params["amount"] = refund.amount
        if refund.reason is not None:
            params["reason"] = refund.reason.value
        shaped = self._shape.refund_create(params)
        return await self._create(
            REFUND, self._client.v1.refunds.create_async, shaped, idempotency_key
        )

    async def retrieve_refund(self, refund_stripe_id: str) -> RemoteRefund:
        return await self._retrieve(
            REFUND, self._client.v1.refunds.retrieve_async, refund_stripe_id
        )

    async def list_refunds(self, payment_intent: str) -> Sequence[RemoteRefund]:
        """Every refund of the PaymentIntent: all pages, ``PAGE_SIZE`` at a time."""

        async def call() -> list[RemoteRefund]:
            params: RefundListParams = {"payment_intent": payment_intent, "limit": PAGE_SIZE}
            refunds = each_listed(self._client.v1.refunds.list_async, params)
            return [mapping.to_refund(refund.to_dict()) async for refund in refunds]

        return await self._call(CallContext("list_refunds", "payment_intent", payment_intent), call)

    # --- events -----------------------------------------------------------------------------------
    async def list_events(self, listing: EventListing) -> EventPage:
        async def call() -> EventPage:
            items, has_more = await self._shape.list_events(self._client, listing)
            return EventPage(tuple(mapping.to_event(e) for e in items), has_more)

        return await self._call(CallContext("list_events", "event"), call)

    # --- anything else ------------------------------------------------------------------------------
    async def retrieve_object(self, path: str) -> dict[str, Any]:
        """GET ``/v1/<path>`` as a plain dict (e.g. ``"invoices/in_123"``), for operators and
        the reconciler; map it with mapping.to_*."""

        async def call() -> dict[str, Any]:
            obj = await self._client.raw_request_async("get", f"/v1/{path.lstrip('/')}")
            result: dict[str, Any] = self._client.deserialize(obj, api_mode="V1").to_dict()
            return result

        return await self._call(CallContext("retrieve_object", path.split("/", 1)[0]), call)
