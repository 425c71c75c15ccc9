"""PaymentService: proto <-> domain mapping only; the rules live in app/."""

from __future__ import annotations

from typing import Any

from payments.v1 import common_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceServicer

from payment_service.api.grpc.convert import EnumMap, MessageFields, optional_time, timestamp_fields
from payment_service.api.grpc.rpc import answers, answers_page, page_of
from payment_service.app.customers.accounts import Customers
from payment_service.app.customers.payment_methods import PaymentMethods, PaymentMethodView
from payment_service.app.payments.rules import CreatePayment, ListPayments
from payment_service.app.payments.service import Payments
from payment_service.app.setup_intents.service import SetupIntents
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Customer, Payment, SetupIntent
from payment_service.domain.entities.mirror import IntentMirror
from payment_service.domain.entities.setup_intent import CLIENT_STATES
from payment_service.domain.pagination import Page
from payment_service.domain.states import (
    CaptureMethod,
    PaymentMethodState,
    PaymentMethodUsage,
    PaymentRefundState,
    PaymentState,
    SetupIntentState,
)

PAYMENT_STATES = EnumMap(PaymentState, pb.PaymentState, "PAYMENT_STATE_")
REFUND_STATES = EnumMap(PaymentRefundState, pb.PaymentRefundState, "PAYMENT_REFUND_STATE_")
CAPTURE_METHODS = EnumMap(CaptureMethod, common_pb2.CaptureMethod, "CAPTURE_METHOD_")
METHOD_STATES = EnumMap(PaymentMethodState, pb.PaymentMethodState, "PAYMENT_METHOD_STATE_")
USAGES = EnumMap(PaymentMethodUsage, pb.PaymentMethodUsage, "PAYMENT_METHOD_USAGE_")
SETUP_STATES = EnumMap(SetupIntentState, pb.SetupIntentState, "SETUP_INTENT_STATE_")
_CANCELLATION_REASONS = {
    pb.CANCELLATION_REASON_DUPLICATE: "duplicate",
    pb.CANCELLATION_REASON_FRAUDULENT: "fraudulent",
    pb.CANCELLATION_REASON_REQUESTED_BY_CUSTOMER: "requested_by_customer",
    pb.CANCELLATION_REASON_ABANDONED: "abandoned",
}


def payment_to_proto(payment: Payment) -> pb.Payment:
    return pb.Payment(**payment_fields(payment))


_TEXT_FIELDS = (
    ("receipt_url", "receipt_url"),
    ("receipt_email", "receipt_email"),
    ("description", "description"),
    ("stripe_payment_method_id", "payment_method"),
    ("stripe_payment_intent_id", "stripe_payment_intent_id"),
    ("stripe_customer_id", "stripe_customer_id"),
    ("invoice_id", "invoice_id"),
    ("dispute_id", "dispute_id"),
)


def payment_fields(payment: Payment) -> dict[str, Any]:
    """The ``pb.Payment`` of ``payment`` as constructor arguments (only the fields that
    differ from their default): a list answer takes them as they are
    (``ListPaymentsResponse(payments=[fields, ...])`` builds each message in place
    instead of copying one built apart, and unset fields cost nothing)."""
    fields: dict[str, Any] = {
        "id": payment.id,
        "account_id": payment.account_id,
        "amount": payment.amount,
        "currency_code": payment.currency,
        "state": PAYMENT_STATES.to_proto(payment.state),
        "refund_state": REFUND_STATES.to_proto(payment.refund_state),
        "capture_method": CAPTURE_METHODS.to_proto(payment.capture_method),
        "create_time": timestamp_fields(payment.create_time),
        "update_time": timestamp_fields(payment.update_time),
    }
    if payment.amount_capturable:
        fields["amount_capturable"] = payment.amount_capturable
    if payment.amount_received:
        fields["amount_received"] = payment.amount_received
    if payment.amount_refunded:
        fields["amount_refunded"] = payment.amount_refunded
    for name, attribute in _TEXT_FIELDS:
        if value := getattr(payment, attribute):
            fields[name] = value
    if payment.metadata:
        fields["metadata"] = payment.metadata
    if payment.off_session:
        fields["off_session"] = True
    if payment.setup_future_usage is not None:
        fields["setup_future_usage"] = USAGES.to_proto(payment.setup_future_usage)
    if payment.disputed:
        fields["disputed"] = True
    if payment.state is PaymentState.REQUIRES_ACTION:
        fields["client_secret"] = payment.client_secret or ""
        fields["next_action"] = _next_action_fields(payment)
    if payment.last_error_code or payment.last_error_message:
        fields["last_error"] = _last_error_fields(payment)
    return fields


def _next_action_fields(row: IntentMirror[Any]) -> dict[str, str]:
    """The intent's next client step (3-D Secure) as constructor arguments."""
    return {"type": row.next_action_type or "", "redirect_url": row.next_action_url or ""}


def _last_error_fields(row: IntentMirror[Any]) -> dict[str, str]:
    """The intent's last error (a decline) as constructor arguments."""
    return {
        "code": row.last_error_code or "",
        "decline_code": row.last_error_decline_code or "",
        "message": row.last_error_message or "",
    }


_CUSTOMER_FIELDS = MessageFields(
    values=("id", "account_id", "stripe_customer_id", "default_payment_method_id")
)
_METHOD_FIELDS = MessageFields(
    values=("id", "account_id", "stripe_payment_method_id", "type", "billing_name"),
    enums={"state": METHOD_STATES},
)
_CARD_FIELDS = MessageFields(
    values=("brand", "last4", "exp_month", "exp_year", "fingerprint"), times=()
)
_SETUP_INTENT_FIELDS = MessageFields(
    values=(
        "id",
        "account_id",
        "stripe_setup_intent_id",
        "stripe_payment_method_id",
        "payment_method_id",
    ),
    enums={"usage": USAGES, "state": SETUP_STATES},
)


def customer_to_proto(customer: Customer) -> pb.Customer:
    return pb.Customer(**_CUSTOMER_FIELDS.of(customer))


def payment_method_to_proto(view: PaymentMethodView) -> pb.PaymentMethod:
    method = view.method
    return pb.PaymentMethod(
        **_METHOD_FIELDS.of(method),
        is_default=view.is_default,
        card=_CARD_FIELDS.of(method) if method.type == "card" else None,
    )


def setup_intent_to_proto(row: SetupIntent) -> pb.SetupIntent:
    fields = _SETUP_INTENT_FIELDS.of(row)
    if row.state in CLIENT_STATES:
        fields["client_secret"] = row.client_secret or ""
    if row.state is SetupIntentState.REQUIRES_ACTION:
        fields["next_action"] = _next_action_fields(row)
    if row.last_error_code or row.last_error_message:
        fields["last_error"] = _last_error_fields(row)
    return pb.SetupIntent(**fields)


class PaymentServicer(PaymentServiceServicer):
    def __init__(
        self,
        payments: Payments,
        customers: Customers,
        payment_methods: PaymentMethods,
        setup_intents: SetupIntents,
    ) -> None:
        self._payments = payments
        self._customers = customers
        self._methods = payment_methods
        self._setup_intents = setup_intents

    @answers(pb.CreatePaymentResponse, "payment", payment_to_proto)
    async def CreatePayment(self, request: pb.CreatePaymentRequest, caller: Caller) -> Payment:
        command = CreatePayment(
            request_id=request.request_id,
            account_id=request.account_id,
            amount=request.amount,
            currency=request.currency_code,
            payment_method=request.stripe_payment_method_id,
            capture_method=CAPTURE_METHODS.from_proto(request.capture_method, "capture_method")
            or CaptureMethod.AUTOMATIC,
            confirm=request.confirm,
            description=request.description,
            receipt_email=request.receipt_email,
            metadata=dict(request.metadata),
            off_session=request.off_session,
            setup_future_usage=USAGES.from_proto(request.setup_future_usage, "setup_future_usage"),
        )
        return await self._payments.create(caller, command)

    @answers(pb.GetPaymentResponse, "payment", payment_to_proto, reuse=True)
    async def GetPayment(self, request: pb.GetPaymentRequest, caller: Caller) -> Payment:
        return await self._payments.get(caller, request.id)

    @answers_page(pb.ListPaymentsResponse, "payments", payment_fields)
    async def ListPayments(self, request: pb.ListPaymentsRequest, caller: Caller) -> Page[Payment]:
        query = ListPayments(
            account_id=request.account_id,
            page=page_of(request),
            states=PAYMENT_STATES.from_protos(request.states, "states"),
            created_after=optional_time(request, "created_after", request.created_after),
            created_before=optional_time(request, "created_before", request.created_before),
        )
        return await self._payments.list(caller, query)

    @answers(pb.ConfirmPaymentResponse, "payment", payment_to_proto)
    async def ConfirmPayment(self, request: pb.ConfirmPaymentRequest, caller: Caller) -> Payment:
        return await self._payments.confirm(
            caller, request.request_id, request.id, request.stripe_payment_method_id
        )

    @answers(pb.CapturePaymentResponse, "payment", payment_to_proto)
    async def CapturePayment(self, request: pb.CapturePaymentRequest, caller: Caller) -> Payment:
        amount = request.amount_to_capture if request.HasField("amount_to_capture") else None
        return await self._payments.capture(caller, request.request_id, request.id, amount)

    @answers(pb.CancelPaymentResponse, "payment", payment_to_proto)
    async def CancelPayment(self, request: pb.CancelPaymentRequest, caller: Caller) -> Payment:
        reason = _CANCELLATION_REASONS.get(request.reason)
        return await self._payments.cancel(caller, request.request_id, request.id, reason)

    @answers(pb.GetCustomerResponse, "customer", customer_to_proto)
    async def GetCustomer(self, request: pb.GetCustomerRequest, caller: Caller) -> Customer:
        return await self._customers.get(caller, request.account_id)

    @answers(pb.AttachPaymentMethodResponse, "payment_method", payment_method_to_proto)
    async def AttachPaymentMethod(
        self, request: pb.AttachPaymentMethodRequest, caller: Caller
    ) -> PaymentMethodView:
        return await self._methods.attach(
            caller,
            request.request_id,
            request.account_id,
            request.stripe_payment_method_id,
            request.set_default,
        )

    @answers_page(pb.ListPaymentMethodsResponse, "payment_methods", payment_method_to_proto)
    async def ListPaymentMethods(
        self, request: pb.ListPaymentMethodsRequest, caller: Caller
    ) -> Page[PaymentMethodView]:
        return await self._methods.list(
            caller, request.account_id, request.include_detached, page_of(request)
        )

    @answers(pb.DetachPaymentMethodResponse, "payment_method", payment_method_to_proto)
    async def DetachPaymentMethod(
        self, request: pb.DetachPaymentMethodRequest, caller: Caller
    ) -> PaymentMethodView:
        return await self._methods.detach(caller, request.request_id, request.id)

    @answers(pb.SetDefaultPaymentMethodResponse, "customer", customer_to_proto)
    async def SetDefaultPaymentMethod(
        self, request: pb.SetDefaultPaymentMethodRequest, caller: Caller
    ) -> Customer:
        return await self._methods.set_default(
            caller, request.request_id, request.account_id, request.id
        )

    @answers(pb.CreateSetupIntentResponse, "setup_intent", setup_intent_to_proto)
    async def CreateSetupIntent(
        self, request: pb.CreateSetupIntentRequest, caller: Caller
    ) -> SetupIntent:
        usage = USAGES.from_proto(request.usage, "usage")
        return await self._setup_intents.create(
            caller, request.request_id, request.account_id, usage
        )

    @answers(pb.GetSetupIntentResponse, "setup_intent", setup_intent_to_proto)
    async def GetSetupIntent(
        self, request: pb.GetSetupIntentRequest, caller: Caller
    ) -> SetupIntent:
        return await self._setup_intents.get(caller, request.id)
