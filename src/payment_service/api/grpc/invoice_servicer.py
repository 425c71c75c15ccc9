"""InvoiceService: proto <-> domain mapping only; the rules live in app/billing."""

from __future__ import annotations

from collections.abc import Mapping

from payments.v1 import invoice_service_pb2 as pb
from payments.v1.invoice_service_pb2_grpc import InvoiceServiceServicer

from payment_service.api.grpc.convert import EnumMap, timestamp
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


def line_to_proto(line: InvoiceLine, price_ids: Mapping[str, str]) -> pb.InvoiceLine:
    return pb.InvoiceLine(
        description=line.description or "",
        amount=line.amount,
        currency_code=line.currency,
        quantity=line.quantity,
        price_id=price_ids.get(line.stripe_price_id or "", ""),
        period_start=timestamp(line.period_start),
        period_end=timestamp(line.period_end),
        proration=line.proration,
    )


def remote_line_to_proto(line: RemoteInvoiceLine, price_ids: Mapping[str, str]) -> pb.InvoiceLine:
    return pb.InvoiceLine(
        description=line.description or "",
        amount=line.amount,
        currency_code=line.currency,
        quantity=line.quantity or 0,
        price_id=price_ids.get(line.price or "", ""),
        period_start=timestamp(maybe_from_unix(line.period_start)),
        period_end=timestamp(maybe_from_unix(line.period_end)),
        proration=line.proration,
    )


def action_to_proto(action: PaymentAction | None) -> pb.PaymentAction | None:
    if action is None:
        return None
    return pb.PaymentAction(
        invoice_id=action.invoice_id or "",
        payment_id=action.payment_id or "",
        client_secret=action.client_secret or "",
        next_action_type=action.next_action_type or "",
        next_action_url=action.next_action_url or "",
        hosted_invoice_url=action.hosted_invoice_url or "",
        error_code=action.error_code or "",
        decline_code=action.decline_code or "",
    )


def invoice_to_proto(view: InvoiceView) -> pb.Invoice:
    invoice = view.invoice
    return pb.Invoice(
        id=invoice.id,
        account_id=invoice.account_id,
        subscription_id=invoice.subscription_id or "",
        number=invoice.number or "",
        state=INVOICE_STATES.to_proto(invoice.state),
        currency_code=invoice.currency,
        amount_due=invoice.amount_due,
        amount_paid=invoice.amount_paid,
        amount_remaining=invoice.amount_remaining,
        subtotal=invoice.subtotal,
        total=invoice.total,
        hosted_invoice_url=invoice.hosted_invoice_url or "",
        invoice_pdf_url=invoice.invoice_pdf_url or "",
        period_start=timestamp(invoice.period_start),
        period_end=timestamp(invoice.period_end),
        due_time=timestamp(invoice.due_time),
        paid_time=timestamp(invoice.paid_time),
        lines=[line_to_proto(line, view.price_ids) for line in invoice.lines],
        stripe_invoice_id=invoice.stripe_invoice_id,
        create_time=timestamp(invoice.create_time),
        update_time=timestamp(invoice.update_time),
        payment_id=invoice.payment_id or "",
        billing_reason=invoice.billing_reason or "",
        attempt_count=invoice.attempt_count,
        pending_action=action_to_proto(view.pending_action),
        stripe_subscription_id=invoice.stripe_subscription_id or "",
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
