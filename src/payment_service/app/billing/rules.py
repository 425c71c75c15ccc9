"""The billing capability's settings, requests and small shared rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from payment_service.app.common.replay import MutationRequest
from payment_service.app.common.validation import Violations
from payment_service.domain.billing import PauseBehavior, ProrationBehavior
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import Invoice, Price, Subscription, SubscriptionItem
from payment_service.domain.errors import FailedPrecondition, InvalidTransition
from payment_service.domain.ids import new_id
from payment_service.domain.states import InvoiceState, SubscriptionState

MAX_TRIAL_DAYS = 730
MAX_QUANTITY = 100_000
# Stripe refuses a proration_date more than about an hour old for some changes and
# any in the future; a preview older than this must be made again.
MAX_PRORATION_AGE = timedelta(hours=1)
# Written on every subscription by the gateway; callers may not use them.
RESERVED_METADATA_KEYS = ("subscription_id",)
DELINQUENT_STATES = frozenset({SubscriptionState.PAST_DUE, SubscriptionState.UNPAID})
# Subscriptions whose state Stripe moves without us asking: refreshed on read and by the
# reconciler when they have not been read from Stripe for a while.
MOVING_STATES = frozenset(
    {SubscriptionState.INCOMPLETE, SubscriptionState.PAST_DUE, SubscriptionState.TRIALING}
)
OPEN_INVOICE_STATES = frozenset({InvoiceState.DRAFT, InvoiceState.OPEN, InvoiceState.UNCOLLECTIBLE})
VOIDABLE = frozenset({InvoiceState.OPEN, InvoiceState.UNCOLLECTIBLE})
PAYABLE = frozenset({InvoiceState.OPEN, InvoiceState.UNCOLLECTIBLE})
BILLING_CALLER = "stripe-billing"  # the caller of the Payments this service imports for invoices


@dataclass(frozen=True, slots=True)
class BillingRules:
    refresh_after_s: float = 5.0
    cache_ttl_s: float = 300.0
    price_cache_ttl_s: float = 30.0
    price_sync_every_s: float = 600.0
    stripe_lease_s: float = 30.0
    # The reconciler's schedule (the same settings as for payments).
    pending_grace_s: float = 5.0
    stuck_after_s: float = 300.0
    max_refresh_interval_s: float = 6 * 3600.0
    batch_size: int = 100


@dataclass(frozen=True, slots=True)
class CreateSubscription:
    request_id: str
    account_id: str
    price_id: str
    quantity: int = 0
    trial_period_days: int = 0
    trial_end: datetime | None = None
    payment_method: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        check = Violations()
        check.request_id(self.request_id)
        check.account_id(self.account_id)
        check.object_id(self.price_id, "price", "price_id")
        check_quantity(check, self.quantity)
        if not 0 <= self.trial_period_days <= MAX_TRIAL_DAYS:
            check.add("trial_period_days", f"must be 0 to {MAX_TRIAL_DAYS}")
        if self.trial_end is not None:
            if self.trial_period_days:
                check.add("trial_end", "set trial_end or trial_period_days, not both")
            elif self.trial_end <= utcnow():
                check.add("trial_end", "must be in the future")
            elif self.trial_end > utcnow() + timedelta(days=MAX_TRIAL_DAYS):
                check.add("trial_end", f"must be at most {MAX_TRIAL_DAYS} days away")
        check.payment_method(self.payment_method, required=False)
        check.metadata(self.metadata, reserved_keys=RESERVED_METADATA_KEYS)
        check.raise_if_any()

    @property
    def has_trial(self) -> bool:
        return bool(self.trial_period_days) or self.trial_end is not None

    def fields(self) -> dict[str, object]:
        """What the request_id fingerprint covers."""
        return {
            "account_id": self.account_id,
            "price_id": self.price_id,
            "quantity": self.quantity or 1,
            "trial_period_days": self.trial_period_days,
            "trial_end": self.trial_end.isoformat() if self.trial_end else None,
            "payment_method": self.payment_method,
            "metadata": dict(self.metadata),
        }


@dataclass(frozen=True, slots=True)
class PlanChange:
    """UpdateSubscription's and PreviewSubscriptionChange's request."""

    subscription_id: str
    price_id: str = ""
    quantity: int = 0
    proration_behavior: ProrationBehavior = ProrationBehavior.CREATE_PRORATIONS
    proration_time: datetime | None = None

    def validate(self, check: Violations | None = None) -> None:
        check = check or Violations()
        check.object_id(self.subscription_id, "subn")
        if self.price_id:
            check.object_id(self.price_id, "price", "price_id")
        check_quantity(check, self.quantity)
        if not self.price_id and not self.quantity:
            check.add("price_id", "set price_id or quantity (or both) to change")
        if self.proration_time is not None:
            now = utcnow()
            if self.proration_time > now + timedelta(seconds=5):
                check.add("proration_time", "must not be in the future")
            elif self.proration_time < now - MAX_PRORATION_AGE:
                check.add("proration_time", "is over an hour old; preview the change again")
        check.raise_if_any()

    def fields(self) -> dict[str, object]:
        return {
            "id": self.subscription_id,
            "price_id": self.price_id,
            "quantity": self.quantity,
            "proration_behavior": self.proration_behavior.value,
            "proration_time": self.proration_time.isoformat() if self.proration_time else None,
        }


@dataclass(frozen=True, slots=True)
class Pause:
    subscription_id: str
    behavior: PauseBehavior = PauseBehavior.VOID
    resume_time: datetime | None = None

    def validate(self, check: Violations) -> None:
        check.object_id(self.subscription_id, "subn")
        if self.resume_time is not None and self.resume_time <= utcnow():
            check.add("resume_time", "must be in the future")
        check.raise_if_any()


def check_quantity(check: Violations, quantity: int) -> None:
    if not 0 <= quantity <= MAX_QUANTITY:
        check.add("quantity", f"must be 0 (keep or 1) to {MAX_QUANTITY}")


def subscription_cache_key(subscription_id: str) -> str:
    return f"subscription:{subscription_id}"


def invoice_cache_key(invoice_id: str) -> str:
    return f"invoice:{invoice_id}"


PRICES_CACHE_KEY = "prices:list"


def require_live(subscription: Subscription, action: str) -> None:
    """Canceled and expired subscriptions take no more changes."""
    if subscription.is_final:
        raise InvalidTransition("subscription", subscription.id, subscription.state.value, action)


def require_known_at_stripe(subscription: Subscription) -> str:
    if subscription.stripe_subscription_id is None:
        raise FailedPrecondition(
            f"subscription {subscription.id} is not yet known at Stripe; "
            "retry CreateSubscription with its request_id",
            reason="SUBSCRIPTION_PENDING",
            metadata={"id": subscription.id},
        )
    return subscription.stripe_subscription_id


def require_invoice_state(invoice: Invoice, allowed: frozenset[InvoiceState], action: str) -> None:
    if invoice.state not in allowed:
        raise InvalidTransition("invoice", invoice.id, invoice.state.value, action)


def refused(subscription: Subscription) -> FailedPrecondition:
    return FailedPrecondition(
        f"Stripe refused subscription {subscription.id}",
        reason="SUBSCRIPTION_FAILED",
        metadata={"subscription_id": subscription.id},
    )


def new_subscription(
    request: MutationRequest,
    command: CreateSubscription,
    price: Price,
    customer_id: str,
    stripe_customer_id: str,
) -> Subscription:
    """The row CreateSubscription inserts (before anything is sent to Stripe)."""
    return Subscription(
        id=new_id("subn"),
        account_id=command.account_id,
        customer_id=customer_id,
        **request.origin(),
        stripe_customer_id=stripe_customer_id,
        items=[
            SubscriptionItem(
                price_id=price.id,
                stripe_price_id=price.stripe_price_id,
                quantity=command.quantity or 1,
            )
        ],
        trial_period_days=command.trial_period_days or None,
        trial_end=command.trial_end,
        metadata=dict(command.metadata),
    )
