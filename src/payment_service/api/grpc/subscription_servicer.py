"""SubscriptionService: proto <-> domain mapping only; the rules live in app/billing."""

from __future__ import annotations

from payments.v1 import subscription_service_pb2 as pb
from payments.v1.subscription_service_pb2_grpc import SubscriptionServiceServicer

from payment_service.api.grpc.convert import (
    CURRENCY_CODE,
    EnumMap,
    MessageFields,
    optional_time,
    timestamp,
)
from payment_service.api.grpc.invoice_servicer import action_to_proto, remote_line_to_proto
from payment_service.api.grpc.rpc import answers, answers_page, page_of, replies
from payment_service.app.billing.changes import ChangePreview
from payment_service.app.billing.rules import CreateSubscription, Pause, PlanChange
from payment_service.app.billing.service import Billing
from payment_service.domain.billing import PauseBehavior, ProrationBehavior
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Price, Subscription
from payment_service.domain.pagination import Page
from payment_service.domain.states import PriceInterval, SubscriptionState

SUBSCRIPTION_STATES = EnumMap(SubscriptionState, pb.SubscriptionState, "SUBSCRIPTION_STATE_")
INTERVALS = EnumMap(PriceInterval, pb.PriceInterval, "PRICE_INTERVAL_")
PRORATIONS = EnumMap(ProrationBehavior, pb.ProrationBehavior, "PRORATION_BEHAVIOR_")
PAUSE_BEHAVIORS = EnumMap(PauseBehavior, pb.PauseBehavior, "PAUSE_BEHAVIOR_")


_PRICE_FIELDS = MessageFields(
    values=("id", "stripe_price_id", "product_name", "unit_amount", "interval_count", "active"),
    enums={"interval": INTERVALS},
    renamed=CURRENCY_CODE,
)
_ITEM_FIELDS = MessageFields(
    values=("price_id", "quantity", "stripe_item_id"),
    times=("current_period_start", "current_period_end"),
)
_SUBSCRIPTION_FIELDS = MessageFields(
    values=(
        "id",
        "account_id",
        "cancel_at_period_end",
        "latest_invoice_id",
        "stripe_subscription_id",
        "metadata",
    ),
    times=(
        "current_period_start",
        "current_period_end",
        "trial_start",
        "trial_end",
        "cancel_at",
        "create_time",
        "update_time",
    ),
    enums={"state": SUBSCRIPTION_STATES},
    renamed={"stripe_payment_method_id": "default_payment_method"},
)


def price_to_proto(price: Price) -> pb.Price:
    return pb.Price(**_PRICE_FIELDS.of(price))


def subscription_to_proto(subscription: Subscription) -> pb.Subscription:
    pause = None
    if subscription.pause_behavior is not None:
        pause = pb.PauseCollection(
            behavior=PAUSE_BEHAVIORS.to_proto(subscription.pause_behavior),
            resume_time=timestamp(subscription.pause_resumes_at),
        )
    return pb.Subscription(
        **_SUBSCRIPTION_FIELDS.of(subscription),
        price_id=subscription.item.price_id,
        quantity=subscription.item.quantity,
        cancel_time=timestamp(subscription.canceled_at),
        items=[pb.SubscriptionItem(**_ITEM_FIELDS.of(item)) for item in subscription.items],
        pending_action=action_to_proto(subscription.pending_action),
        pause_collection=pause,
        trial_will_end_notice_time=timestamp(subscription.trial_will_end_notice_at),
    )


def _preview_to_proto(preview: ChangePreview) -> pb.PreviewSubscriptionChangeResponse:
    return pb.PreviewSubscriptionChangeResponse(
        currency_code=preview.currency,
        amount_due_now=preview.amount_due_now,
        next_invoice_total=preview.next_invoice_total,
        proration_lines=[
            remote_line_to_proto(line, preview.price_ids) for line in preview.proration_lines
        ],
        lines=[remote_line_to_proto(line, preview.price_ids) for line in preview.lines],
        proration_time=timestamp(preview.proration_time),
    )


def _change(
    request: pb.UpdateSubscriptionRequest | pb.PreviewSubscriptionChangeRequest,
) -> PlanChange:
    behavior = PRORATIONS.from_proto(request.proration_behavior, "proration_behavior")
    proration_time = None
    if isinstance(request, pb.UpdateSubscriptionRequest):
        proration_time = optional_time(request, "proration_time", request.proration_time)
    return PlanChange(
        subscription_id=request.id,
        price_id=request.price_id,
        quantity=request.quantity,
        proration_behavior=behavior or ProrationBehavior.CREATE_PRORATIONS,
        proration_time=proration_time,
    )


class SubscriptionServicer(SubscriptionServiceServicer):
    def __init__(self, billing: Billing) -> None:
        self._billing = billing

    @answers(pb.CreateSubscriptionResponse, "subscription", subscription_to_proto)
    async def CreateSubscription(
        self, request: pb.CreateSubscriptionRequest, caller: Caller
    ) -> Subscription:
        command = CreateSubscription(
            request_id=request.request_id,
            account_id=request.account_id,
            price_id=request.price_id,
            quantity=request.quantity,
            trial_period_days=request.trial_period_days,
            trial_end=optional_time(request, "trial_end", request.trial_end),
            payment_method=request.stripe_payment_method_id,
            metadata=dict(request.metadata),
        )
        return await self._billing.create_subscription(caller, command)

    @answers(pb.GetSubscriptionResponse, "subscription", subscription_to_proto)
    async def GetSubscription(
        self, request: pb.GetSubscriptionRequest, caller: Caller
    ) -> Subscription:
        return await self._billing.get_subscription(caller, request.id)

    @answers_page(pb.ListSubscriptionsResponse, "subscriptions", subscription_to_proto)
    async def ListSubscriptions(
        self, request: pb.ListSubscriptionsRequest, caller: Caller
    ) -> Page[Subscription]:
        states = SUBSCRIPTION_STATES.from_protos(request.states, "states")
        return await self._billing.list_subscriptions(
            caller, request.account_id, page_of(request), states
        )

    @answers_page(pb.ListDelinquentSubscriptionsResponse, "subscriptions", subscription_to_proto)
    async def ListDelinquentSubscriptions(
        self, request: pb.ListDelinquentSubscriptionsRequest, caller: Caller
    ) -> Page[Subscription]:
        states = SUBSCRIPTION_STATES.from_protos(request.states, "states")
        return await self._billing.list_delinquent(caller, page_of(request), states)

    @answers(pb.UpdateSubscriptionResponse, "subscription", subscription_to_proto)
    async def UpdateSubscription(
        self, request: pb.UpdateSubscriptionRequest, caller: Caller
    ) -> Subscription:
        return await self._billing.update_subscription(caller, request.request_id, _change(request))

    @replies(_preview_to_proto)
    async def PreviewSubscriptionChange(
        self, request: pb.PreviewSubscriptionChangeRequest, caller: Caller
    ) -> ChangePreview:
        return await self._billing.preview_change(caller, _change(request))

    @answers(pb.CancelSubscriptionResponse, "subscription", subscription_to_proto)
    async def CancelSubscription(
        self, request: pb.CancelSubscriptionRequest, caller: Caller
    ) -> Subscription:
        return await self._billing.cancel_subscription(
            caller, request.request_id, request.id, at_period_end=request.at_period_end
        )

    @answers(pb.PauseSubscriptionResponse, "subscription", subscription_to_proto)
    async def PauseSubscription(
        self, request: pb.PauseSubscriptionRequest, caller: Caller
    ) -> Subscription:
        pause = Pause(
            subscription_id=request.id,
            behavior=PAUSE_BEHAVIORS.from_proto(request.behavior, "behavior") or PauseBehavior.VOID,
            resume_time=optional_time(request, "resume_time", request.resume_time),
        )
        return await self._billing.pause_subscription(caller, request.request_id, pause)

    @answers(pb.ResumeSubscriptionResponse, "subscription", subscription_to_proto)
    async def ResumeSubscription(
        self, request: pb.ResumeSubscriptionRequest, caller: Caller
    ) -> Subscription:
        return await self._billing.resume_subscription(caller, request.request_id, request.id)

    @answers_page(pb.ListPricesResponse, "prices", price_to_proto)
    async def ListPrices(self, request: pb.ListPricesRequest, caller: Caller) -> Page[Price]:
        return await self._billing.list_prices(
            page_of(request), include_inactive=request.include_inactive
        )
