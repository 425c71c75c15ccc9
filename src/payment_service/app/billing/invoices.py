"""PayInvoice and VoidInvoice: one Stripe call each, replayed under the caller's request_id.

A payment that wants 3-D Secure leaves the invoice OPEN with its pending action
(the PaymentIntent's client secret and the hosted invoice page); a decline
answers CARD_DECLINED, recorded so that a retry answers the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.billing.rules import PAYABLE, VOIDABLE, require_invoice_state
from payment_service.app.billing.store import BillingStore
from payment_service.app.common.locks import KeyedLocks
from payment_service.app.common.replay import (
    MutationRequest,
    RequestLedger,
    raise_recorded_decline,
    recorded,
)
from payment_service.app.common.validation import Violations
from payment_service.app.payments.create import check_payment_method_owner
from payment_service.app.ports.billing import BillingProcessor
from payment_service.app.ports.processor import idempotency_key
from payment_service.domain.billing import RemoteInvoice
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Invoice, RequestRecord
from payment_service.domain.errors import CardDeclined, Conflict, NotFound
from payment_service.domain.states import InvoiceState


@dataclass
class InvoiceCommands:
    store: BillingStore
    billing: BillingProcessor

    def __post_init__(self) -> None:
        self._ledger = RequestLedger(self.store.uow_factory)
        self._locks = KeyedLocks()

    async def pay(
        self, caller: Caller, request_id: str, invoice_id: str, payment_method: str = ""
    ) -> Invoice:
        check = Violations()
        check.stripe_id(payment_method, "pm", "stripe_payment_method_id", required=False)
        _validate(request_id, invoice_id, check)
        request = MutationRequest.of(
            caller, "PayInvoice", request_id, {"id": invoice_id, "payment_method": payment_method}
        )
        async with self._locks.hold((caller.sub, request_id)):
            invoice, answered = await self._find(caller, request, invoice_id)
            if answered is not None:
                raise_recorded_decline(answered, invoice.payment_id or "")
                return invoice
            require_invoice_state(invoice, PAYABLE, InvoiceState.PAID.value)
            if payment_method:
                await check_payment_method_owner(
                    self.store.uow_factory, payment_method, invoice.account_id
                )
            try:
                remote = await self.billing.pay_invoice(
                    invoice.stripe_invoice_id,
                    payment_method=payment_method or None,
                    idempotency_key=idempotency_key(invoice.id, f"pay:{request_id}"),
                )
            except CardDeclined as error:
                await self._store_decline(caller, request, invoice, error)
                raise
            return await self._store(caller, request, remote, "invoices.pay")

    async def void(self, caller: Caller, request_id: str, invoice_id: str) -> Invoice:
        _validate(request_id, invoice_id)
        request = MutationRequest.of(caller, "VoidInvoice", request_id, {"id": invoice_id})
        async with self._locks.hold((caller.sub, request_id)):
            invoice, answered = await self._find(caller, request, invoice_id)
            if answered is not None:
                return invoice
            require_invoice_state(invoice, VOIDABLE, InvoiceState.VOID.value)
            remote = await self.billing.void_invoice(
                invoice.stripe_invoice_id,
                idempotency_key=idempotency_key(invoice.id, f"void:{request_id}"),
            )
            return await self._store(caller, request, remote, "invoices.void")

    async def _find(
        self, caller: Caller, request: MutationRequest, invoice_id: str
    ) -> tuple[Invoice, RequestRecord | None]:
        async with self.store.uow_factory(read_only=True) as uow:
            answered = await recorded(uow, request)
            invoice = await uow.invoices.get(invoice_id)
        if invoice is None or not caller.may_access(invoice.account_id):
            raise NotFound("invoice", invoice_id)
        return invoice, answered

    async def _store(
        self, caller: Caller, request: MutationRequest, remote: RemoteInvoice, action: str
    ) -> Invoice:
        try:
            synced = await self.store.store_invoice(
                remote, actor=caller.sub, action=action, request=request
            )
        except Conflict:
            if await self._ledger.find(request) is None:
                raise
            async with self.store.uow_factory(read_only=True) as uow:
                current = await uow.invoices.find_by_stripe_id(remote.stripe_id)
            assert current is not None
            return current
        assert synced.invoice is not None
        return synced.invoice

    async def _store_decline(
        self, caller: Caller, request: MutationRequest, invoice: Invoice, error: CardDeclined
    ) -> None:
        """Re-read the invoice (its payment now carries the decline) and record the answer."""
        remote = await self.billing.retrieve_invoice(invoice.stripe_invoice_id)
        synced = await self.store.store_invoice(remote, actor=caller.sub, action="invoices.pay")
        stored = synced.invoice or invoice
        error.metadata.setdefault("invoice_id", stored.id)
        if stored.payment_id:
            error.metadata.setdefault("payment_id", stored.payment_id)
        await self._ledger.remember_decline(request, stored.id, error)


def _validate(request_id: str, invoice_id: str, check: Violations | None = None) -> None:
    check = check or Violations()
    check.request_id(request_id)
    check.object_id(invoice_id, "inv")
    check.raise_if_any()
