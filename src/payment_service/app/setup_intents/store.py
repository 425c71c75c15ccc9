"""Reading and writing one SetupIntent: Stripe's answers stored, and the saved card
attached to the account once the SetupIntent succeeded.

Attaching needs the payment method's display facts from Stripe: that read is made before
the transaction (inside an event's application through ``common.stripe_reads.fetched``,
so with no transaction open there too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from payment_service.app.common.audit import REFRESH_ACTOR, audit_entry
from payment_service.app.common.audit_context import system_actor_or
from payment_service.app.common.stripe_reads import fetched
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.entities import PaymentMethod, SetupIntent
from payment_service.domain.errors import DomainError, found
from payment_service.domain.processor import RemotePaymentMethod
from payment_service.domain.setup_intents import RemoteSetupIntent
from payment_service.domain.states import PaymentMethodState, SetupIntentState

STRIPE_ANSWER = "setup_intents.stripe_answer"  # what Stripe said to the create we sent
REFRESH = "setup_intents.refresh"


async def saved_method(
    processor: PaymentProcessor, remote: RemoteSetupIntent
) -> RemotePaymentMethod | None:
    """The payment method a succeeded SetupIntent saved, read from Stripe; None before."""
    pm = remote.payment_method
    if remote.state is not SetupIntentState.SUCCEEDED or pm is None:
        return None
    return await fetched(f"payment_method:{pm}", lambda: processor.retrieve_payment_method(pm))


async def attach_method(
    uow: UnitOfWork, row: SetupIntent, method: RemotePaymentMethod | None
) -> bool:
    """Store the saved card for the account and link it; False when there is nothing to do
    (not succeeded, already linked, or the card is another account's)."""
    if method is None or not row.awaits_attachment:
        return False
    stored = await uow.payment_methods.find_by_stripe_id(method.stripe_id)
    if stored is None:
        stored = PaymentMethod.from_remote(
            method, account_id=row.account_id, customer_id=row.customer_id
        )
        await uow.payment_methods.add(stored)
    elif stored.account_id != row.account_id or stored.state is not PaymentMethodState.ATTACHED:
        return False
    row.payment_method_id = stored.id
    return True


@dataclass
class SetupIntentStore:
    uow_factory: UnitOfWorkFactory
    processor: PaymentProcessor

    async def load(self, setup_intent_id: str) -> SetupIntent:
        async with self.uow_factory(read_only=True) as uow:
            stored = await uow.setup_intents.get(setup_intent_id)
        return found(stored, "setup_intent", setup_intent_id)

    @staticmethod
    async def locked(uow: UnitOfWork, setup_intent_id: str) -> SetupIntent:
        row = await uow.setup_intents.get_for_update(setup_intent_id)
        return found(row, "setup_intent", setup_intent_id)

    async def store_remote(
        self, setup_intent_id: str, remote: RemoteSetupIntent, observed_at: datetime, action: str
    ) -> SetupIntent:
        """Stripe's view (our create's answer, or a read): the lease given back and the
        card attached once the SetupIntent succeeded, with an audit row; one transaction."""
        method = await saved_method(self.processor, remote)
        async with self.uow_factory() as uow:
            row = await self.locked(uow, setup_intent_id)
            before = row.state
            row.apply_remote(remote, observed_at)
            row.lease_until = None
            attached = await attach_method(uow, row, method)
            await uow.setup_intents.update(row)
            if action == STRIPE_ANSWER or row.state is not before or attached:
                actor = row.caller if action == STRIPE_ANSWER else REFRESH_ACTOR
                await uow.audit.add(
                    audit_entry(
                        system_actor_or(actor),
                        action,
                        ("setup_intent", row.id),
                        row.state.value,
                        {"stripe_setup_intent_id": remote.stripe_id},
                    )
                )
            await uow.commit()
        return row

    async def store_rejection(self, setup_intent_id: str, error: DomainError) -> SetupIntent:
        """Stripe refused to create the SetupIntent: it is FAILED, nothing was saved."""
        async with self.uow_factory() as uow:
            row = await self.locked(uow, setup_intent_id)
            row.move_to(SetupIntentState.FAILED)
            row.last_error_code = error.reason.lower()[:64]
            row.last_error_message = error.message
            row.lease_until = None
            await uow.setup_intents.update(row)
            await uow.audit.add(
                audit_entry(row.caller, STRIPE_ANSWER, ("setup_intent", row.id), error.reason)
            )
            await uow.commit()
        return row
