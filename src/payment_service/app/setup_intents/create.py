"""CreateSetupIntent, and finishing a PENDING one (the reconciler's part).

As for payments (DESIGN §5): the local row is committed PENDING first, holding the
Stripe-call lease, then Stripe is called with an idempotency key derived from the row id,
then Stripe's answer is stored. A retry (same request_id) or the reconciler repeats the
call with the same key, so Stripe answers with the same SetupIntent; nothing is charged
either way.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from payment_service.app.common.audit import insert_or_winner
from payment_service.app.common.leases import StripeCallLease
from payment_service.app.common.locks import KeyedLocks
from payment_service.app.common.replay import MutationRequest
from payment_service.app.common.validation import Violations
from payment_service.app.customers.accounts import Customers
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.processor import idempotency_key
from payment_service.app.ports.setup_intents import SetupIntentProcessor
from payment_service.app.setup_intents.rules import SetupIntentRules
from payment_service.app.setup_intents.store import STRIPE_ANSWER, SetupIntentStore
from payment_service.domain.caller import Caller
from payment_service.domain.clock import api_read_time
from payment_service.domain.entities import SetupIntent
from payment_service.domain.errors import DomainError, NotFound, RequestIdReused, outcome_unknown
from payment_service.domain.ids import new_id
from payment_service.domain.states import PaymentMethodUsage, SetupIntentState

METHOD = "CreateSetupIntent"


def _pending(row: SetupIntent) -> bool:
    return row.state is SetupIntentState.PENDING


@dataclass
class CreateSetupIntents:
    store: SetupIntentStore
    processor: SetupIntentProcessor
    customers: Customers
    rules: SetupIntentRules
    failpoints: Failpoints = NO_FAILPOINTS

    def __post_init__(self) -> None:
        self._locks = KeyedLocks()
        self._lease: StripeCallLease[SetupIntent] = StripeCallLease(
            self.store.uow_factory,
            lambda uow: uow.setup_intents,
            kind="setup_intent",
            lease_s=self.rules.stripe_lease_s,
            needs_call=_pending,
            busy_reason="SETUP_INTENT_IN_PROGRESS",
        )

    async def create(
        self, caller: Caller, request_id: str, account_id: str, usage: PaymentMethodUsage | None
    ) -> SetupIntent:
        check = Violations()
        check.request_id(request_id)
        check.account_id(account_id)
        check.raise_if_any()
        caller.require_account(account_id)
        chosen = usage or PaymentMethodUsage.OFF_SESSION
        fields = {"account_id": account_id, "usage": chosen.value}
        request = MutationRequest.of(caller, METHOD, request_id, fields)
        async with self._locks.hold((caller.sub, request_id)):
            existing = await self._find(caller, request_id)
            if existing is None:
                row, ours = await self._insert(caller, request, account_id, chosen)
                return await self._submit(row, first_attempt=ours)
            if existing.request_hash != request.body_hash:
                raise RequestIdReused(request_id)
            if not caller.may_access(existing.account_id):
                raise NotFound("setup_intent", existing.id)
            if not _pending(existing):
                return existing
            return await self._submit(existing, first_attempt=False)

    async def _find(self, caller: Caller, request_id: str) -> SetupIntent | None:
        async with self.store.uow_factory(read_only=True) as uow:
            return await uow.setup_intents.find_by_request(caller.sub, request_id)

    async def _insert(
        self,
        caller: Caller,
        request: MutationRequest,
        account_id: str,
        usage: PaymentMethodUsage,
    ) -> tuple[SetupIntent, bool]:
        customer = await self.customers.get_or_create(caller, account_id)
        row = SetupIntent(
            id=new_id("setup"),
            account_id=account_id,
            customer_id=customer.id,
            caller=caller.sub,
            request_id=request.request_id,
            request_hash=request.body_hash,
            usage=usage,
            stripe_customer_id=customer.stripe_customer_id,
            lease_until=self._lease.new_lease(),  # no second write to claim it
        )
        stored, inserted = await insert_or_winner(
            self.store.uow_factory,
            row,
            add=lambda uow: uow.setup_intents.add(row),
            winner=lambda: self._find(caller, request.request_id),
            actor=caller.sub,
            action="setup_intents.create",
            subject=("setup_intent", row.id),
        )
        if not inserted and stored.request_hash != request.body_hash:
            raise RequestIdReused(request.request_id)
        return stored, inserted

    async def _submit(self, row: SetupIntent, *, first_attempt: bool) -> SetupIntent:
        """Send a PENDING SetupIntent to Stripe once, or wait for whoever is doing it."""
        claimed = row if first_attempt else await self._lease.claim(row.id)
        if not _pending(claimed):
            return claimed
        try:
            remote = await self.processor.create_setup_intent(
                claimed.create_request(), idempotency_key=idempotency_key(claimed.id, "create")
            )
        except DomainError as error:
            if outcome_unknown(error):
                await self._lease.release(claimed.id)
                raise
            await self.store.store_rejection(claimed.id, error)
            error.metadata.setdefault("setup_intent_id", claimed.id)
            raise error from None
        except BaseException:
            # Cancelled with the outcome unknown: let the next attempt in now.
            await asyncio.shield(self._lease.release(claimed.id))
            raise
        self.failpoints.hit("setup_intents.create.after_stripe")
        return await self.store.store_remote(claimed.id, remote, api_read_time(), STRIPE_ANSWER)

    async def finish_pending(self, row: SetupIntent) -> SetupIntent:
        """Reconciler: send a PENDING SetupIntent a crash or an outage left unsent (the same
        key as the first attempt); a refusal is stored, Unavailable raised."""
        current = await self.store.load(row.id)
        if not _pending(current) or self._lease.held(current):
            return current
        try:
            return await self._submit(current, first_attempt=False)
        except DomainError as error:
            if outcome_unknown(error):
                raise
            return await self.store.load(row.id)
