"""What the payment processor (Stripe) says about an object: immutable snapshots.

These are observations, not our entities: the use cases compare them with their
own rows and move the rows through the domain state machines. Amounts are in
the currency's minor unit exactly as Stripe sends them; timestamps are Unix
seconds as Stripe sends them. Nothing here knows Stripe's wire format (see
adapters/stripe/mapping.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, overload

from payment_service.domain.errors import CardDeclined, InvalidArgument
from payment_service.domain.states import (
    CaptureMethod,
    PaymentMethodUsage,
    PaymentState,
    RefundReason,
    RefundState,
)


class _WithMetadata(Protocol):
    @property
    def metadata(self) -> Mapping[str, str]: ...


class OwnId:
    """Our own id on a snapshot of a Stripe object we create: we store it in the object's
    metadata under ``key`` at creation (None on an object made elsewhere).

    Declared on the snapshot as ``payment_id = OwnId("payment_id")``: read like a field.
    """

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    @overload
    def __get__(self, remote: None, owner: type[object]) -> OwnId: ...
    @overload
    def __get__(self, remote: _WithMetadata, owner: type[object]) -> str | None: ...
    def __get__(self, remote: _WithMetadata | None, owner: type[object]) -> OwnId | str | None:
        return self if remote is None else remote.metadata.get(self.key)


@dataclass(frozen=True, slots=True)
class RemoteCustomer:
    stripe_id: str
    email: str | None
    name: str | None
    default_payment_method: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)
    created: int = 0
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class RemotePaymentError:
    """``last_payment_error`` of a PaymentIntent (or the error of a declined call)."""

    code: str | None
    decline_code: str | None
    message: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteIntent:
    """What Stripe's PaymentIntents and SetupIntents share: the customer and card they are
    for, and what the client still has to do (its secret, a next action, the last error)."""

    customer: str | None
    payment_method: str | None
    client_secret: str | None
    next_action_type: str | None
    next_action_url: str | None
    last_error: RemotePaymentError | None

    @property
    def last_error_code(self) -> str | None:
        return self.last_error.code if self.last_error else None

    @property
    def last_error_decline_code(self) -> str | None:
        return self.last_error.decline_code if self.last_error else None

    @property
    def last_error_message(self) -> str | None:
        return self.last_error.message if self.last_error else None


@dataclass(frozen=True, slots=True, kw_only=True)
class RemotePaymentIntent(RemoteIntent):
    stripe_id: str
    state: PaymentState
    amount: int
    currency: str
    amount_capturable: int
    amount_received: int
    capture_method: CaptureMethod
    receipt_url: str | None
    latest_charge_id: str | None
    amount_refunded: int | None  # known only when the latest charge came expanded
    metadata: Mapping[str, str]
    created: int
    canceled_at: int | None = None
    cancellation_reason: str | None = None
    description: str | None = None

    payment_id = OwnId("payment_id")


@dataclass(frozen=True, slots=True)
class NewPaymentIntent:
    """What a PaymentIntent is created with; ``metadata`` gets our ``payment_id`` added."""

    payment_id: str
    amount: int  # the currency's minor unit as is (JPY 500 -> 500)
    currency: str
    customer: str | None = None
    payment_method: str | None = None
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    confirm: bool = False
    description: str | None = None
    receipt_email: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    off_session: bool = False  # the customer is away: Stripe's off_session=true (with confirm)
    setup_future_usage: PaymentMethodUsage | None = None

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise InvalidArgument.field("amount", "must be positive")


@dataclass(frozen=True, slots=True)
class RemotePaymentMethod:
    stripe_id: str
    type: str
    customer: str | None
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    fingerprint: str | None
    billing_name: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)
    created: int = 0


@dataclass(frozen=True, slots=True)
class RemoteRefund:
    stripe_id: str
    payment_intent: str | None
    charge: str | None
    amount: int
    currency: str
    state: RefundState
    reason: RefundReason | None
    failure_reason: str | None
    metadata: Mapping[str, str]
    created: int


@dataclass(frozen=True, slots=True)
class RemoteCharge:
    stripe_id: str
    payment_intent: str | None
    amount: int
    amount_captured: int
    amount_refunded: int
    currency: str
    status: str  # Stripe's own: succeeded | pending | failed
    captured: bool
    failure_code: str | None
    failure_message: str | None
    receipt_url: str | None
    created: int
    # The charge's refunds when the payload carried all of them; None when it did not.
    refunds: tuple[RemoteRefund, ...] | None = None


@dataclass(frozen=True, slots=True)
class RemoteEvent:
    stripe_id: str
    type: str
    created: int
    data_object: Mapping[str, Any]
    api_version: str | None
    previous_attributes: Mapping[str, Any] | None = None

    @property
    def object_type(self) -> str | None:
        value = self.data_object.get("object")
        return value if isinstance(value, str) else None

    @property
    def object_id(self) -> str | None:
        value = self.data_object.get("id")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class EventPage:
    """One page of ``/v1/events``, newest first as Stripe lists them."""

    events: tuple[RemoteEvent, ...]
    has_more: bool


class ProcessorCardDeclined(CardDeclined):
    """A card decline, carrying the PaymentIntent as Stripe left it when it said so.

    ``payment_intent`` lets the caller store the Stripe id, state
    (``requires_payment_method``) and ``last_error`` of the declined attempt.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        decline_code: str = "",
        payment_id: str = "",
        payment_intent: RemotePaymentIntent | None = None,
    ) -> None:
        super().__init__(message, code=code, decline_code=decline_code, payment_id=payment_id)
        self.payment_intent = payment_intent
