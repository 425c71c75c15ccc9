"""UpdateSubscription, PreviewSubscriptionChange, CancelSubscription, PauseSubscription,
ResumeSubscription: one Stripe call each, remembered under the caller's request_id
so a retry replays the first answer and Stripe sees the call once."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from payment_service.app.billing.prices import PriceCatalog, our_price_ids
from payment_service.app.billing.rules import (
    Pause,
    PlanChange,
    require_known_at_stripe,
    require_live,
)
from payment_service.app.billing.store import BillingStore
from payment_service.app.common.mutation import Attempt, Mutations, PlainAnswers, Subject
from payment_service.app.common.replay import MutationRequest
from payment_service.app.common.validation import Violations, check_command
from payment_service.app.ports.billing import BillingProcessor
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.domain.billing import (
    ProrationBehavior,
    RemoteInvoiceLine,
    RemoteInvoicePreview,
    RemotePause,
    RemoteSubscription,
    SubscriptionChange,
)
from payment_service.domain.caller import Caller
from payment_service.domain.clock import from_unix, utcnow
from payment_service.domain.entities import Price, Subscription
from payment_service.domain.errors import InvalidTransition, NotFound
from payment_service.domain.states import SubscriptionState

_SUBSCRIPTIONS: Subject[Subscription] = Subject(
    "subscription", "subscriptions", lambda uow: uow.subscriptions
)
StripeCall = Callable[[Subscription, str], Awaitable[RemoteSubscription]]
# A subscription whose first payment is not done takes no plan change or pause yet.
_STARTED = frozenset(
    {
        SubscriptionState.TRIALING,
        SubscriptionState.ACTIVE,
        SubscriptionState.PAST_DUE,
        SubscriptionState.UNPAID,
        SubscriptionState.PAUSED,
    }
)


@dataclass(frozen=True, slots=True)
class ChangePreview:
    currency: str
    amount_due_now: int
    next_invoice_total: int
    proration_lines: tuple[RemoteInvoiceLine, ...]
    lines: tuple[RemoteInvoiceLine, ...]
    proration_time: datetime
    price_ids: Mapping[str, str] = field(default_factory=dict)  # Stripe price id -> ours


@dataclass
class SubscriptionCommands:
    store: BillingStore
    billing: BillingProcessor
    prices: PriceCatalog
    failpoints: Failpoints = NO_FAILPOINTS

    def __post_init__(self) -> None:
        answers = SubscriptionAnswers(self.store)
        self._mutations = Mutations(
            self.store.uow_factory, _SUBSCRIPTIONS, answers, self.failpoints
        )

    async def update(self, caller: Caller, request_id: str, change: PlanChange) -> Subscription:
        check = Violations()
        check.request_id(request_id)
        change.validate(check)

        async def changeable(subscription: Subscription) -> None:
            _require_started(subscription, "changed")
            await self._target_price(subscription, change)

        async def call(subscription: Subscription, key: str) -> RemoteSubscription:
            stripe_change = await self._stripe_change(subscription, change)
            return await self.billing.update_subscription(
                require_known_at_stripe(subscription), stripe_change, idempotency_key=key
            )

        def made(subscription: Subscription) -> bool:
            item = subscription.item
            return (not change.price_id or item.price_id == change.price_id) and (
                not change.quantity or item.quantity == change.quantity
            )

        request = MutationRequest.of(caller, "UpdateSubscription", request_id, change.fields())
        return await self._mutations.run(
            caller, request, change.subscription_id, call, made, changeable
        )

    async def preview(self, caller: Caller, change: PlanChange) -> ChangePreview:
        change.validate()
        subscription = await self.store.subscription(caller, change.subscription_id)
        _require_started(subscription, "changed")
        at = change.proration_time or utcnow().replace(microsecond=0)
        stripe_change = await self._stripe_change(subscription, change, proration_time=at)
        preview = await self.billing.preview_subscription_change(
            require_known_at_stripe(subscription), subscription.stripe_customer_id, stripe_change
        )
        price = await self._target_price(subscription, change)
        quantity = change.quantity or subscription.item.quantity
        answer = _preview(preview, change.proration_behavior, price.unit_amount * quantity, at)
        async with self.store.uow_factory(read_only=True) as uow:
            price_ids = await our_price_ids(uow, (line.price for line in preview.lines))
        return dataclasses.replace(answer, price_ids=price_ids)

    async def cancel(
        self, caller: Caller, request_id: str, subscription_id: str, *, at_period_end: bool
    ) -> Subscription:
        check_command(request_id, subscription_id, "subn")

        async def call(subscription: Subscription, key: str) -> RemoteSubscription:
            stripe_id = require_known_at_stripe(subscription)
            if at_period_end:
                return await self.billing.set_cancel_at_period_end(
                    stripe_id, True, idempotency_key=key
                )
            return await self.billing.cancel_subscription(stripe_id, idempotency_key=key)

        def canceled(subscription: Subscription) -> bool:
            return subscription.is_final or (at_period_end and subscription.cancel_at_period_end)

        fields = {"id": subscription_id, "at_period_end": at_period_end}
        request = MutationRequest.of(caller, "CancelSubscription", request_id, fields)
        return await self._mutations.run(
            caller, request, subscription_id, call, canceled, lambda s: require_live(s, "canceled")
        )

    async def pause(self, caller: Caller, request_id: str, pause: Pause) -> Subscription:
        check = Violations()
        check.request_id(request_id)
        pause.validate(check)
        resumes_at = int(pause.resume_time.timestamp()) if pause.resume_time else None

        async def call(subscription: Subscription, key: str) -> RemoteSubscription:
            return await self.billing.set_pause_collection(
                require_known_at_stripe(subscription),
                RemotePause(pause.behavior, resumes_at),
                idempotency_key=key,
            )

        fields = {"id": pause.subscription_id, "behavior": pause.behavior.value, "at": resumes_at}
        request = MutationRequest.of(caller, "PauseSubscription", request_id, fields)
        return await self._mutations.run(
            caller,
            request,
            pause.subscription_id,
            call,
            lambda subscription: subscription.pause_behavior is pause.behavior,
            lambda subscription: _require_started(subscription, "paused"),
        )

    async def resume(self, caller: Caller, request_id: str, subscription_id: str) -> Subscription:
        """Undo a scheduled cancellation, clear a collection pause, or resume a paused one."""
        check_command(request_id, subscription_id, "subn")

        def resumable(subscription: Subscription) -> None:
            require_live(subscription, "resumed")
            if _resumed(subscription):
                raise InvalidTransition(
                    "subscription", subscription.id, subscription.state.value, "resumed"
                )

        async def call(subscription: Subscription, key: str) -> RemoteSubscription:
            stripe_id = require_known_at_stripe(subscription)
            if subscription.cancel_at_period_end:
                return await self.billing.set_cancel_at_period_end(
                    stripe_id, False, idempotency_key=key
                )
            if subscription.pause_behavior is not None:
                return await self.billing.set_pause_collection(stripe_id, None, idempotency_key=key)
            return await self.billing.resume_subscription(stripe_id, idempotency_key=key)

        request = MutationRequest.of(
            caller, "ResumeSubscription", request_id, {"id": subscription_id}
        )
        return await self._mutations.run(
            caller, request, subscription_id, call, _resumed, resumable
        )

    async def _target_price(self, subscription: Subscription, change: PlanChange) -> Price:
        if change.price_id and change.price_id != subscription.item.price_id:
            return await self.prices.subscribable(change.price_id)
        async with self.store.uow_factory(read_only=True) as uow:
            price = await uow.prices.get(subscription.item.price_id)
        if price is None:
            raise NotFound("price", subscription.item.price_id)
        return price

    async def _stripe_change(
        self,
        subscription: Subscription,
        change: PlanChange,
        *,
        proration_time: datetime | None = None,
    ) -> SubscriptionChange:
        price = await self._target_price(subscription, change)
        item = subscription.item
        if item.stripe_item_id is None:
            require_known_at_stripe(subscription)
            raise NotFound("subscription_item", subscription.id)
        at = proration_time or change.proration_time
        return SubscriptionChange(
            item=item.stripe_item_id,
            price=price.stripe_price_id if price.stripe_price_id != item.stripe_price_id else None,
            quantity=change.quantity or None,
            proration_behavior=change.proration_behavior,
            proration_date=int(at.timestamp()) if at else None,
        )


@dataclass
class SubscriptionAnswers(PlainAnswers):
    """How Stripe's answers to a subscription command are kept."""

    billing: BillingStore

    async def store(self, attempt: Attempt, remote: RemoteSubscription) -> Subscription:
        synced = await self.billing.store_subscription(
            attempt.object_id,
            remote,
            actor=attempt.caller.sub,
            action=attempt.action,
            request=attempt.request,
        )
        return synced.subscription or await self.billing.subscription(
            attempt.caller, attempt.object_id
        )


def _resumed(subscription: Subscription) -> bool:
    return not (
        subscription.cancel_at_period_end
        or subscription.pause_behavior is not None
        or subscription.state is SubscriptionState.PAUSED
    )


def _require_started(subscription: Subscription, action: str) -> None:
    require_live(subscription, action)
    if subscription.state not in _STARTED:
        raise InvalidTransition("subscription", subscription.id, subscription.state.value, action)


def _preview(
    preview: RemoteInvoicePreview, behavior: ProrationBehavior, period_total: int, at: datetime
) -> ChangePreview:
    prorations = tuple(line for line in preview.lines if line.proration)
    invoiced_now = behavior is ProrationBehavior.ALWAYS_INVOICE
    return ChangePreview(
        currency=preview.currency,
        # The prorations are what an immediate invoice holds (none during a trial).
        amount_due_now=max(sum(line.amount for line in prorations), 0) if invoiced_now else 0,
        next_invoice_total=period_total if invoiced_now else preview.total,
        proration_lines=prorations,
        lines=preview.lines,
        proration_time=from_unix(int(at.timestamp())),
    )
