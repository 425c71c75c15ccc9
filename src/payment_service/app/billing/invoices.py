"""PayInvoice and VoidInvoice: one Stripe call each, replayed under the caller's request_id.

A payment that wants 3-D Secure leaves the invoice OPEN with its pending action
(the PaymentIntent's client secret and the hosted invoice page); a decline
answers CARD_DECLINED, recorded so that a retry answers the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.billing.rules import PAYABLE, VOIDABLE, require_invoice_state
from payment_service.app.billing.store import BillingStore
from payment_service.app.common.mutation import Attempt, Mutations, Subject
from payment_service.app.common.replay import MutationRequest, raise_recorded_decline
from payment_service.app.common.validation import Violations, check_command
from payment_service.app.payments.create import check_payment_method_owner
from payment_service.app.ports.billing import BillingProcessor
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.domain.billing import RemoteInvoice
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Invoice, RequestRecord
from payment_service.domain.errors import CardDeclined, NotFound
from payment_service.domain.states import InvoiceState

_INVOICES: Subject[Invoice] = Subject("invoice", "invoices", lambda uow: uow.invoices)


@dataclass
class InvoiceCommands:
    store: BillingStore
    billing: BillingProcessor
    failpoints: Failpoints = NO_FAILPOINTS

    def __post_init__(self) -> None:
        answers = InvoiceAnswers(self.store, self.billing)
        self._mutations = Mutations(self.store.uow_factory, _INVOICES, answers, self.failpoints)

    async def pay(
        self, caller: Caller, request_id: str, invoice_id: str, payment_method: str = ""
    ) -> Invoice:
        check = Violations()
        check.payment_method(payment_method, required=False)
        check_command(request_id, invoice_id, "inv", check)

        async def payable(invoice: Invoice) -> None:
            require_invoice_state(invoice, PAYABLE, InvoiceState.PAID.value)
            if payment_method:
                await check_payment_method_owner(
                    self.store.uow_factory, payment_method, invoice.account_id
                )

        async def call(invoice: Invoice, key: str) -> RemoteInvoice:
            return await self.billing.pay_invoice(
                invoice.stripe_invoice_id,
                payment_method=payment_method or None,
                idempotency_key=key,
            )

        fields = {"id": invoice_id, "payment_method": payment_method}
        request = MutationRequest.of(caller, "PayInvoice", request_id, fields)
        return await self._mutations.run(caller, request, invoice_id, call, _paid, payable)

    async def void(self, caller: Caller, request_id: str, invoice_id: str) -> Invoice:
        check_command(request_id, invoice_id, "inv")

        async def call(invoice: Invoice, key: str) -> RemoteInvoice:
            return await self.billing.void_invoice(invoice.stripe_invoice_id, idempotency_key=key)

        request = MutationRequest.of(caller, "VoidInvoice", request_id, {"id": invoice_id})
        return await self._mutations.run(caller, request, invoice_id, call, _voided, _voidable)


@dataclass
class InvoiceAnswers:
    """How Stripe's answers to an invoice command are kept."""

    billing_store: BillingStore
    billing: BillingProcessor

    async def store(self, attempt: Attempt, remote: RemoteInvoice) -> Invoice:
        synced = await self.billing_store.store_invoice(
            remote, actor=attempt.caller.sub, action=attempt.action, request=attempt.request
        )
        if synced.invoice is None:
            raise NotFound("invoice", attempt.object_id)
        return synced.invoice

    async def declined(
        self, attempt: Attempt, target: Invoice, error: CardDeclined
    ) -> CardDeclined:
        """Re-read the invoice (its payment now carries the decline) and record the answer."""
        remote = await self.billing.retrieve_invoice(target.stripe_invoice_id)
        synced = await self.billing_store.store_invoice(
            remote, actor=attempt.caller.sub, action=attempt.action
        )
        stored = synced.invoice or target
        error.metadata.setdefault("invoice_id", stored.id)
        if stored.payment_id:
            error.metadata.setdefault("payment_id", stored.payment_id)
        await attempt.declined(error)
        return error

    def replay(self, answered: RequestRecord, target: Invoice) -> None:
        raise_recorded_decline(answered, target.payment_id or "")


def _paid(invoice: Invoice) -> bool:
    return invoice.state is InvoiceState.PAID


def _voided(invoice: Invoice) -> bool:
    return invoice.state is InvoiceState.VOID


def _voidable(invoice: Invoice) -> None:
    require_invoice_state(invoice, VOIDABLE, InvoiceState.VOID.value)
