"""InvoiceService: proto <-> domain mapping only; the rules live in app/billing."""

from __future__ import annotations

from collections.abc import Mapping

from payments.v1 import invoice_service_pb2 as pb
from payments.v1.invoice_service_pb2_grpc import InvoiceServiceServicer

from payment_service.api.grpc.convert import CURRENCY_CODE, EnumMap, MessageFields, timestamp
from payment_service.api.grpc.rpc import answers, answers_page, page_of
from payment_service.app.billing.queries import InvoiceView
from payment_service.app.billing.service import Billing
from payment_service.domain.billing import RemoteInvoiceLine
from payment_service.domain.caller import Caller
from payment_service.domain.clock import maybe_from_unix
from payment_service.domain.entities import InvoiceLine, PaymentAction
from payment_service.domain.pagination import Page
from payment_service.domain.states import InvoiceState

INVOICE_STATES = EnumMap(InvoiceState, pb.InvoiceState, "INVOICE_STATE_")


_LINE_VALUES = ("description", "amount", "quantity", "proration")
_LINE_FIELDS = MessageFields(
    values=_LINE_VALUES, times=("period_start", "period_end"), renamed=CURRENCY_CODE
)
_REMOTE_LINE_FIELDS = MessageFields(values=_LINE_VALUES, times=(), renamed=CURRENCY_CODE)
_ACTION_FIELDS = MessageFields(
    values=(
        "invoice_id",
        "payment_id",
        "client_secret",
        "next_action_type",
        "next_action_url",
        "hosted_invoice_url",
        "error_code",
        "decline_code",
    ),
    times=(),
)
_INVOICE_FIELDS = MessageFields(
    values=(
        "id",
        "account_id",
        "subscription_id",
        "number",
        "amount_due",
        "amount_paid",
        "amount_remaining",
        "subtotal",
        "total",
        "hosted_invoice_url",
        "invoice_pdf_url",
        "stripe_invoice_id",
        "payment_id",
        "billing_reason",
        "attempt_count",
        "stripe_subscription_id",
    ),
    times=("period_start", "period_end", "due_time", "paid_time", "create_time", "update_time"),
    enums={"state": INVOICE_STATES},
    renamed=CURRENCY_CODE,
)


def line_to_proto(line: InvoiceLine, price_ids: Mapping[str, str]) -> pb.InvoiceLine:
    return pb.InvoiceLine(
        **_LINE_FIELDS.of(line),
        price_id=price_ids.get(line.stripe_price_id or "", ""),
    )


def remote_line_to_proto(line: RemoteInvoiceLine, price_ids: Mapping[str, str]) -> pb.InvoiceLine:
    return pb.InvoiceLine(
        **_REMOTE_LINE_FIELDS.of(line),
        price_id=price_ids.get(line.price or "", ""),
        period_start=timestamp(maybe_from_unix(line.period_start)),
        period_end=timestamp(maybe_from_unix(line.period_end)),
    )


def action_to_proto(action: PaymentAction | None) -> pb.PaymentAction | None:
    return None if action is None else pb.PaymentAction(**_ACTION_FIELDS.of(action))


def invoice_to_proto(view: InvoiceView) -> pb.Invoice:
    invoice = view.invoice
    return pb.Invoice(
        **_INVOICE_FIELDS.of(invoice),
        lines=[line_to_proto(line, view.price_ids) for line in invoice.lines],
        pending_action=action_to_proto(view.pending_action),
    )


class InvoiceServicer(InvoiceServiceServicer):
    def __init__(self, billing: Billing) -> None:
        self._billing = billing

    @answers(pb.GetInvoiceResponse, "invoice", invoice_to_proto)
    async def GetInvoice(self, request: pb.GetInvoiceRequest, caller: Caller) -> InvoiceView:
        return await self._billing.get_invoice(caller, request.id)

    @answers_page(pb.ListInvoicesResponse, "invoices", invoice_to_proto)
    async def ListInvoices(
        self, request: pb.ListInvoicesRequest, caller: Caller
    ) -> Page[InvoiceView]:
        return await self._billing.list_invoices(
            caller,
            page_of(request),
            account_id=request.account_id,
            subscription_id=request.subscription_id,
            states=INVOICE_STATES.from_protos(request.states, "states"),
        )

    @answers(pb.PayInvoiceResponse, "invoice", invoice_to_proto)
    async def PayInvoice(self, request: pb.PayInvoiceRequest, caller: Caller) -> InvoiceView:
        return await self._billing.pay_invoice(
            caller, request.request_id, request.id, request.stripe_payment_method_id
        )

    @answers(pb.VoidInvoiceResponse, "invoice", invoice_to_proto)
    async def VoidInvoice(self, request: pb.VoidInvoiceRequest, caller: Caller) -> InvoiceView:
        return await self._billing.void_invoice(caller, request.request_id, request.id)
