"""CreateSetupIntent, and finishing a PENDING one (the reconciler's part).

As for payments (DESIGN §5, app/common/create_once.py): the local row is committed
PENDING first, holding the Stripe-call lease, then Stripe is called with an idempotency
key derived from the row id, then Stripe's answer is stored. A retry (same request_id)
or the reconciler repeats the call with the same key, so Stripe answers with the same
SetupIntent; nothing is charged either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.common.create_once import CreateOnce
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
from payment_service.domain.errors import DomainError, NotFound, outcome_unknown
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
        self._once: CreateOnce[SetupIntent] = CreateOnce(
            self.store.uow_factory,
            lambda uow: uow.setup_intents,
            kind="setup_intent",
            action="setup_intents.create",
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
        async with self._once.hold(request):
            row, ours = await self._once.obtain(
                request, lambda: self._new(caller, request, account_id, chosen)
            )
            if not caller.may_access(row.account_id):
                raise NotFound("setup_intent", row.id)
            if not ours and not _pending(row):
                return row
            return await self._submit(row, first_attempt=ours)

    async def _new(
        self,
        caller: Caller,
        request: MutationRequest,
        account_id: str,
        usage: PaymentMethodUsage,
    ) -> SetupIntent:
        customer = await self.customers.get_or_create(caller, account_id)
        return SetupIntent(
            id=new_id("setup"),
            account_id=account_id,
            customer_id=customer.id,
            **request.origin(),
            usage=usage,
            stripe_customer_id=customer.stripe_customer_id,
        )

    async def _submit(self, row: SetupIntent, *, first_attempt: bool) -> SetupIntent:
        """Send a PENDING SetupIntent to Stripe once, or wait for whoever is doing it."""
        claimed = row if first_attempt else await self._once.claim(row.id)
        if not _pending(claimed):
            return claimed
        try:
            async with self._once.calling(claimed.id):
                remote = await self.processor.create_setup_intent(
                    claimed.create_request(), idempotency_key=idempotency_key(claimed.id, "create")
                )
        except DomainError as error:
            if not outcome_unknown(error):  # Stripe refused it: stored FAILED
                await self.store.store_rejection(claimed.id, error)
                error.metadata.setdefault("setup_intent_id", claimed.id)
            raise
        self.failpoints.hit("setup_intents.create.after_stripe")
        return await self.store.store_remote(claimed.id, remote, api_read_time(), STRIPE_ANSWER)

    async def finish_pending(self, row: SetupIntent) -> SetupIntent:
        """Reconciler: send a PENDING SetupIntent a crash or an outage left unsent (the same
        key as the first attempt); a refusal is stored, Unavailable raised."""
        return await self._once.finish(
            lambda: self.store.load(row.id),
            lambda current: self._submit(current, first_attempt=False),
        )
