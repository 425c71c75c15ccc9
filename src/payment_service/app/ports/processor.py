"""The payment processor as the use cases see it (implemented by adapters/stripe).

Every mutating call takes an ``idempotency_key`` built with ``idempotency_key()``
from our own row id and the operation, so a retry, a crash-and-replay or a
reconciler pass repeats the same call and Stripe answers with the first result.

Errors are domain errors (payment_service.domain.errors):

- ``ProcessorCardDeclined`` (a ``CardDeclined``): the card was refused; carries
  the PaymentIntent as Stripe left it when Stripe said so.
- ``InvalidArgument``: Stripe rejected a parameter (the violation names it).
- ``FailedPrecondition``: the object's state forbids the call (capture twice …).
- ``NotFound``: Stripe does not know the id.
- ``ResourceExhausted``: Stripe rate-limited us.
- ``Unavailable``: not known whether Stripe did it (unreachable, timed out, 5xx,
  deadline too short) or Stripe refuses our credentials; keep the row PENDING
  and retry with the same key later, never mark it FAILED.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from payment_service.domain.errors import InvalidArgument
from payment_service.domain.processor import (
    EventPage,
    NewPaymentIntent,
    RemoteCharge,
    RemoteCustomer,
    RemotePaymentIntent,
    RemotePaymentMethod,
    RemoteRefund,
)
from payment_service.domain.states import RefundReason

# Metadata keys the service writes on Stripe objects (and finds them by).
PAYMENT_ID_KEY = "payment_id"
REFUND_ID_KEY = "refund_id"
ACCOUNT_ID_KEY = "account_id"
CUSTOMER_ID_KEY = "customer_id"


def idempotency_key(row_id: str, operation: str) -> str:
    """``"pay_123:create"``: stable across retries and restarts, distinct per operation."""
    if not row_id or not operation:
        raise ValueError("idempotency keys need a row id and an operation")
    return f"{row_id}:{operation}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NewCustomer:
    """A Stripe customer for one of our accounts (``metadata`` gets ``account_id`` added)."""

    account_id: str
    email: str | None = None
    name: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRefund:
    """A refund of ``payment_intent``: ``amount`` None refunds all that remains;
    ``metadata`` gets ``refund_id`` (our row's id) added."""

    refund_id: str
    payment_intent: str
    amount: int | None = None
    reason: RefundReason | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.amount is not None and self.amount <= 0:
            raise InvalidArgument.field("amount", "must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class EventListing:
    """One page of events, newest first, as Stripe lists them: created after
    ``created_after``, older than ``starting_after`` or newer than ``ending_before``
    (one cursor at most), ``limit`` (1 to 100) of them."""

    created_after: int | None = None
    starting_after: str | None = None
    ending_before: str | None = None
    limit: int = 100

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= 100:
            raise InvalidArgument.field("limit", "must be between 1 and 100")
        if self.starting_after and self.ending_before:
            raise InvalidArgument.field("ending_before", "cannot be combined with starting_after")


class PaymentProcessor(Protocol):
    # --- customers ------------------------------------------------------------------
    async def create_customer(
        self, customer: NewCustomer, *, idempotency_key: str
    ) -> RemoteCustomer: ...

    async def retrieve_customer(self, customer_id: str) -> RemoteCustomer: ...

    async def set_default_payment_method(
        self, customer_id: str, payment_method_id: str, *, idempotency_key: str
    ) -> RemoteCustomer:
        """Make the (attached) payment method the customer's default for invoices."""
        ...

    # --- payment intents ------------------------------------------------------------
    async def create_payment_intent(
        self, intent: NewPaymentIntent, *, idempotency_key: str
    ) -> RemotePaymentIntent:
        """Create (and with ``intent.confirm`` confirm) a card PaymentIntent."""
        ...

    async def confirm_payment_intent(
        self, stripe_id: str, *, idempotency_key: str, payment_method: str | None = None
    ) -> RemotePaymentIntent: ...

    async def capture_payment_intent(
        self, stripe_id: str, *, idempotency_key: str, amount_to_capture: int | None = None
    ) -> RemotePaymentIntent: ...

    async def cancel_payment_intent(
        self, stripe_id: str, *, idempotency_key: str, reason: str | None = None
    ) -> RemotePaymentIntent:
        """``reason``: Stripe's cancellation_reason (duplicate, fraudulent,
        requested_by_customer, abandoned) or None."""
        ...

    async def retrieve_payment_intent(self, stripe_id: str) -> RemotePaymentIntent: ...

    async def find_payment_intent_by_payment_id(
        self, payment_id: str, *, customer: str | None = None
    ) -> RemotePaymentIntent | None:
        """The PaymentIntent whose ``metadata.payment_id`` is ours, or None (crash recovery)."""
        ...

    # --- payment methods ------------------------------------------------------------
    async def attach_payment_method(
        self, payment_method_id: str, *, customer: str, idempotency_key: str
    ) -> RemotePaymentMethod: ...

    async def detach_payment_method(
        self, payment_method_id: str, *, idempotency_key: str
    ) -> RemotePaymentMethod: ...

    async def retrieve_payment_method(self, payment_method_id: str) -> RemotePaymentMethod: ...

    # --- charges and refunds --------------------------------------------------------
    async def retrieve_charge(self, charge_id: str) -> RemoteCharge: ...

    async def create_refund(self, refund: NewRefund, *, idempotency_key: str) -> RemoteRefund: ...

    async def retrieve_refund(self, refund_stripe_id: str) -> RemoteRefund: ...

    async def list_refunds(self, payment_intent: str) -> Sequence[RemoteRefund]: ...

    # --- events (the reconciler) ----------------------------------------------------
    async def list_events(self, listing: EventListing) -> EventPage:
        """One page of events, newest first, as Stripe lists them.

        To catch up from the last event seen, call with ``ending_before=<last id>``
        until ``has_more`` is false, taking the newest id of each page as the next
        cursor and applying each page's events oldest first (reversed).
        """
        ...

    async def close(self) -> None: ...
