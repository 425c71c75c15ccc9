"""CreateSubscription, and finishing one a crash left unsent (the reconciler's part).

As for payments (DESIGN §5): the local row is committed first, holding the
Stripe-call lease; Stripe is asked with an idempotency key derived from the row
(``payment_behavior=default_incomplete``); a retry first looks for a
subscription an earlier attempt made. The first invoice's PaymentIntent is then
confirmed with the subscription's payment method: a decline answers
CARD_DECLINED, 3-D Secure leaves the subscription INCOMPLETE with its
``pending_action`` (client secret, hosted invoice page) for the caller's client.
"""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.billing.prices import PriceCatalog
from payment_service.app.billing.rules import (
    BillingRules,
    CreateSubscription,
    new_subscription,
    refused,
)
from payment_service.app.billing.store import BillingStore
from payment_service.app.common.create_once import CreateOnce
from payment_service.app.common.leases import settled
from payment_service.app.common.replay import MutationRequest, raise_recorded_decline
from payment_service.app.customers.accounts import Customers
from payment_service.app.payments.create import (
    check_payment_method_owner,
    default_payment_method,
)
from payment_service.app.ports.billing import BillingProcessor
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.processor import PaymentProcessor, idempotency_key
from payment_service.domain.billing import RemoteSubscription
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Subscription
from payment_service.domain.errors import (
    CardDeclined,
    DomainError,
    FailedPrecondition,
    NotFound,
    outcome_unknown,
)
from payment_service.domain.processor import ProcessorCardDeclined
from payment_service.domain.states import PaymentState, SubscriptionState

METHOD = "CreateSubscription"
_CONFIRMABLE = frozenset({PaymentState.REQUIRES_CONFIRMATION, PaymentState.REQUIRES_PAYMENT_METHOD})


@dataclass
class CreateSubscriptions:
    store: BillingStore
    billing: BillingProcessor
    processor: PaymentProcessor
    customers: Customers
    prices: PriceCatalog
    rules: BillingRules
    failpoints: Failpoints = NO_FAILPOINTS

    def __post_init__(self) -> None:
        self._uow_factory = self.store.uow_factory
        self._once: CreateOnce[Subscription] = CreateOnce(
            self.store.uow_factory,
            lambda uow: uow.subscriptions,
            kind="subscription",
            action="subscriptions.create",
            lease_s=self.rules.stripe_lease_s,
            needs_call=unsent,
            busy_reason="SUBSCRIPTION_IN_PROGRESS",
        )
        self._ledger = self._once.ledger

    async def create(self, caller: Caller, command: CreateSubscription) -> Subscription:
        command.validate()
        caller.require_account(command.account_id)
        request = MutationRequest.of(caller, METHOD, command.request_id, command.fields())
        async with self._once.hold(request):
            subscription, ours = await self._once.obtain(
                request, lambda: self._new_subscription(caller, command, request)
            )
            return await self._submit(subscription, request, first_attempt=ours)

    async def needs_finishing(self, subscription: Subscription) -> bool:
        """Unsent, or sent but its create call never answered (a crash before the first
        invoice was paid: a webhook or the catch-up may have linked the row meanwhile)."""
        if subscription.is_final or self._once.held(subscription):
            return False
        if unsent(subscription):
            return True
        if subscription.state is not SubscriptionState.INCOMPLETE:
            return False
        return await self._ledger.find(MutationRequest.that_made(METHOD, subscription)) is None

    async def finish_pending(self, subscription_id: str) -> Subscription:
        """Reconciler: finish a create a crash or an outage left undone, exactly once: send
        the subscription (one at Stripe), then confirm its first invoice's payment."""
        found = await self._load(subscription_id)
        if not await self.needs_finishing(found):
            return found
        return await settled(
            self._submit(found, MutationRequest.that_made(METHOD, found), first_attempt=False),
            lambda: self._load(found.id),
        )

    async def _new_subscription(
        self, caller: Caller, command: CreateSubscription, request: MutationRequest
    ) -> Subscription:
        price = await self.prices.subscribable(command.price_id)
        if command.payment_method:
            await check_payment_method_owner(
                self._uow_factory, command.payment_method, command.account_id
            )
        payment_method = command.payment_method or await self._default_payment_method(
            command.account_id
        )
        if payment_method is None and not command.has_trial:
            raise FailedPrecondition(
                f"account {command.account_id} has no payment method and the subscription "
                "has no trial: attach a payment method or pass one",
                reason="PAYMENT_METHOD_REQUIRED",
                metadata={"account_id": command.account_id},
            )
        customer = await self.customers.get_or_create(caller, command.account_id)
        assert customer.stripe_customer_id is not None  # get_or_create made it at Stripe
        subscription = new_subscription(
            request, command, price, customer.id, customer.stripe_customer_id
        )
        subscription.default_payment_method = payment_method
        return subscription

    async def _default_payment_method(self, account_id: str) -> str | None:
        async with self._uow_factory(read_only=True) as uow:
            customer = await uow.customers.get_by_account(account_id)
        if customer is None:
            return None
        return await default_payment_method(self._uow_factory, customer.default_payment_method_id)

    async def _submit(
        self, subscription: Subscription, request: MutationRequest, *, first_attempt: bool
    ) -> Subscription:
        """Create the subscription at Stripe once, then pay its first invoice once."""
        answered = await self._ledger.find(request)
        if answered is not None:
            current = await self._load(subscription.id)
            action = current.pending_action
            try:
                raise_recorded_decline(answered, (action.payment_id or "") if action else "")
            except CardDeclined as declined:
                declined.metadata["subscription_id"] = current.id
                raise
            return current
        claimed = subscription if first_attempt else await self._once.claim(subscription.id)
        if unsent(claimed):
            remote = await self._send(claimed, first_attempt=first_attempt)
            self.failpoints.hit("billing.create.after_stripe")
        elif claimed.stripe_subscription_id is not None:
            # Sent by an earlier attempt: what we hold may predate its first invoice.
            remote = await self.billing.retrieve_subscription(claimed.stripe_subscription_id)
        else:  # Stripe refused it
            raise refused(claimed)
        return await self._pay_first_invoice(claimed, remote, request)

    async def _send(self, subscription: Subscription, *, first_attempt: bool) -> RemoteSubscription:
        try:
            async with self._once.calling(subscription.id):
                found = None if first_attempt else await self._made_earlier(subscription)
                return found or await self.billing.create_subscription(
                    subscription.create_request(),
                    idempotency_key=idempotency_key(subscription.id, "create"),
                )
        except DomainError as error:
            if not outcome_unknown(error):
                await self._store_refusal(subscription.id, error)
            raise

    async def _made_earlier(self, subscription: Subscription) -> RemoteSubscription | None:
        """A subscription an earlier attempt created (its answer lost to a crash or timeout)."""
        for remote in await self.billing.list_subscriptions(subscription.stripe_customer_id):
            if remote.subscription_id == subscription.id:
                return await self.billing.retrieve_subscription(remote.stripe_id)
        return None

    async def _pay_first_invoice(
        self, subscription: Subscription, remote: RemoteSubscription, request: MutationRequest
    ) -> Subscription:
        """Store Stripe's answer; confirm the first invoice's PaymentIntent when it waits for
        us; record the answer (a decline too)."""
        intent = _confirmable_first_payment(remote, subscription.default_payment_method)
        stored = await self.store.store_subscription(
            subscription.id,
            remote,
            actor=subscription.caller,
            action=self._once.action,
            request=None if intent else request,  # answered once the payment is tried
        )
        current = stored.subscription or subscription
        if intent is None or current.default_payment_method is None:
            return current
        declined: ProcessorCardDeclined | None = None
        try:
            await self.processor.confirm_payment_intent(
                intent,
                idempotency_key=idempotency_key(subscription.id, "confirm-first-invoice"),
                payment_method=current.default_payment_method,
            )
        except ProcessorCardDeclined as error:
            declined = error
        assert current.stripe_subscription_id is not None
        after = await self.billing.retrieve_subscription(current.stripe_subscription_id)
        synced = await self.store.store_subscription(
            subscription.id,
            after,
            actor=subscription.caller,
            action=None,
            request=None if declined else request,
        )
        current = synced.subscription or current
        if declined is not None:
            answer = CardDeclined(
                declined.message or "the card was declined",
                code=declined.code or "card_declined",
                decline_code=declined.decline_code,
                payment_id=(current.pending_action.payment_id or "")
                if current.pending_action
                else "",
            )
            answer.metadata["subscription_id"] = current.id
            await self._ledger.remember_decline(request, current.id, answer)
            raise answer
        return current

    async def _store_refusal(self, subscription_id: str, error: DomainError) -> None:
        """Stripe refused to create it: nothing was charged; the row ends INCOMPLETE_EXPIRED."""
        async with self._uow_factory() as uow:
            subscription = await self.store.locked_subscription(uow, subscription_id)
            subscription.move_to(SubscriptionState.INCOMPLETE_EXPIRED)
            subscription.lease_until = None
            await uow.subscriptions.update(subscription)
            await uow.audit.add(
                self._once.audit_row(subscription, error.reason, {"message": error.message})
            )
            await uow.commit()

    async def _load(self, subscription_id: str) -> Subscription:
        async with self._uow_factory(read_only=True) as uow:
            found = await uow.subscriptions.get(subscription_id)
        if found is None:
            raise NotFound("subscription", subscription_id)
        return found


def _confirmable_first_payment(
    remote: RemoteSubscription, payment_method: str | None
) -> str | None:
    """The first invoice's PaymentIntent when it waits for our confirmation (not yet tried,
    and the subscription has a payment method to try); None otherwise."""
    invoice = remote.latest_invoice
    intent = invoice.payment_intent if invoice else None
    if (
        remote.state is not SubscriptionState.INCOMPLETE
        or intent is None
        or intent.state not in _CONFIRMABLE
        or intent.last_error is not None
        or not (remote.default_payment_method or payment_method)
    ):
        return None
    return intent.stripe_id


def unsent(subscription: Subscription) -> bool:
    """Not yet created at Stripe (and not refused)."""
    return subscription.stripe_subscription_id is None and not subscription.is_final
