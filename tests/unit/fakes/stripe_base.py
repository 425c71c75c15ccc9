"""How ``FakeStripe`` (processor.py) fakes the PaymentProcessor port: in memory, answering the way the Stripe gateway
(adapters/stripe) does, errors mapped to the same domain errors.

- Idempotency keys: a repeated key with the same parameters gets the first answer again
  (a decline included), without doing anything twice; with other parameters it gets
  PROCESSOR_IDEMPOTENCY_CONFLICT. Like Stripe, a request refused for bad parameters or an
  unknown id saves no answer.
- Test cards: ``pm_card_visa`` and ``pm_card_mastercard`` charge, ``pm_card_visa_chargeDeclined``
  and ``pm_card_visa_chargeDeclinedInsufficientFunds`` decline, ``pm_card_threeDSecure2Required``
  needs 3-D Secure (``add_card`` makes more).
- Switches: ``fail_next(op, error)`` makes the next call of ``op`` raise ``error`` before Stripe
  does anything (``after=True``: Stripe did it, the answer was lost); ``decline_next()``
  declines the next charge attempt; ``next_refund_state`` is the state new refunds get.

Deliberate differences: test-card tokens are used as the PaymentMethod ids themselves (Stripe
clones them into fresh ``pm_`` ids); ``find_payment_intent_by_payment_id`` sees new
PaymentIntents at once (Stripe's search lags about a minute); events are not made by the
fake: tests ``add_event`` what they need; charges never embed their refunds (``refunds`` is
None, as in today's API); cancelling an authorization leaves its charge as it was.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

from payment_service.adapters.stripe.errors import REFUND_STATE_CODES, STATE_CODES
from payment_service.adapters.stripe.gateway import CANCEL_REASONS
from payment_service.app.payments.rules import CANCELABLE, CONFIRMABLE
from payment_service.domain.entities import RESERVING_REFUND_STATES as COUNTED_REFUND_STATES
from payment_service.domain.errors import (
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from payment_service.domain.processor import (
    ProcessorCardDeclined,
    RemoteCharge,
    RemoteCustomer,
    RemoteEvent,
    RemotePaymentIntent,
    RemotePaymentMethod,
    RemoteRefund,
)
from payment_service.domain.states import RefundState

T = TypeVar("T")

OPERATIONS: Final = frozenset(
    {
        "create_customer",
        "retrieve_customer",
        "set_default_payment_method",
        "create_payment_intent",
        "confirm_payment_intent",
        "capture_payment_intent",
        "cancel_payment_intent",
        "retrieve_payment_intent",
        "find_payment_intent_by_payment_id",
        "attach_payment_method",
        "detach_payment_method",
        "retrieve_payment_method",
        "retrieve_charge",
        "create_refund",
        "retrieve_refund",
        "list_refunds",
        "list_events",
    }
)
UNEXPECTED_STATE: Final = "payment_intent_unexpected_state"
# The gateway's own tables, not copies: what may be confirmed or canceled, which Stripe codes
# are state problems, which refunds count against the refundable amount.
__all__ = [
    "CANCELABLE",
    "CANCEL_REASONS",
    "CONFIRMABLE",
    "COUNTED_REFUND_STATES",
    "STATE_CODES",
]


def stripe_error(
    operation: str, resource: str, resource_id: str, *, code: str, param: str, message: str
) -> DomainError:
    """The domain error the gateway makes of Stripe's ``invalid_request_error`` (400/404)."""
    meta = {"stripe_code": code, "param": param} if param else {"stripe_code": code}
    if code == "resource_missing":
        return NotFound(resource, resource_id or param)
    if code in STATE_CODES or (code in REFUND_STATE_CODES and "refund" in operation):
        return FailedPrecondition(message, reason=code.upper(), metadata=meta)
    violations = [FieldViolation(param, message)] if param else []
    return InvalidArgument(
        message, violations=violations, reason="PROCESSOR_REJECTED_REQUEST", metadata=meta
    )


@dataclass(frozen=True, slots=True)
class Card:
    brand: str
    last4: str
    decline_code: str | None = None  # declines every charge with this code
    needs_action: bool = False  # 3-D Secure before the charge


TEST_CARDS: Final = {
    "pm_card_visa": Card("visa", "4242"),
    "pm_card_mastercard": Card("mastercard", "4444"),
    "pm_card_visa_chargeDeclined": Card("visa", "0002", decline_code="generic_decline"),
    "pm_card_visa_chargeDeclinedInsufficientFunds": Card(
        "visa", "9995", decline_code="insufficient_funds"
    ),
    "pm_card_threeDSecure2Required": Card("visa", "3220", needs_action=True),
}


@dataclass(frozen=True, slots=True)
class _Failure:
    error: Exception
    after: bool


@dataclass(frozen=True, slots=True)
class _Decline:
    code: str
    decline_code: str
    message: str


@dataclass(frozen=True, slots=True)
class _Answer:
    operation: str
    params: str
    outcome: object  # the result, or the decline raised


class StripeBase:
    """State, switches and the machinery of one call; ``FakeStripe`` adds the operations."""

    def __init__(self) -> None:
        self.customers: dict[str, RemoteCustomer] = {}
        self.payment_intents: dict[str, RemotePaymentIntent] = {}
        self.payment_methods: dict[str, RemotePaymentMethod] = {}
        self.charges: dict[str, RemoteCharge] = {}
        self.refunds: dict[str, RemoteRefund] = {}
        self.events: list[RemoteEvent] = []  # oldest first
        self.calls: Counter[str] = Counter()
        self.replays: Counter[str] = Counter()  # answers given again for a repeated key
        self.next_refund_state = RefundState.SUCCEEDED
        self.closed = False
        self._cards: dict[str, Card] = dict(TEST_CARDS)
        self._answers: dict[str, _Answer] = {}
        self._failures: defaultdict[str, deque[_Failure]] = defaultdict(deque)
        self._declines: deque[_Decline] = deque()
        self._sequence = itertools.count(1)

    # --- switches and views for tests ----------------------------------------------------
    @property
    def payment_intents_created(self) -> int:
        return len(self.payment_intents)

    @property
    def refunds_created(self) -> int:
        return len(self.refunds)

    def fail_next(
        self, operation: str, error: Exception, *, times: int = 1, after: bool = False
    ) -> None:
        """The next ``times`` calls of ``operation`` raise ``error``: before Stripe acts, or
        (``after=True``) once it has acted and its answer is lost."""
        if operation not in OPERATIONS:
            raise ValueError(f"FakeStripe has no operation {operation!r}")
        self._failures[operation].extend(_Failure(error, after) for _ in range(times))

    def decline_next(
        self,
        *,
        decline_code: str = "generic_decline",
        code: str = "card_declined",
        message: str = "Your card was declined.",
    ) -> None:
        """The next charge attempt (a confirming create, or a confirm) is declined."""
        self._declines.append(_Decline(code, decline_code, message))

    def add_card(self, card: Card, stripe_id: str | None = None) -> str:
        stripe_id = stripe_id or self._new_id("pm")
        self._cards[stripe_id] = card
        return stripe_id

    def edit_payment_intent(self, stripe_id: str, **changes: Any) -> RemotePaymentIntent:
        """Change a PaymentIntent behind the service's back (the dashboard, a bug, fraud)."""
        edited = dataclasses.replace(self.payment_intents[stripe_id], **changes)
        self.payment_intents[stripe_id] = edited
        return edited

    def add_event(
        self, type: str, data_object: Mapping[str, Any], *, created: int | None = None
    ) -> RemoteEvent:
        event = RemoteEvent(
            self._new_id("evt"), type, created or self._now(), dict(data_object), "2025-06-30"
        )
        self.events.append(event)
        return event

    # --- the machinery of one call -----------------------------------------------------
    async def _call(self, operation: str, run: Callable[[], T]) -> T:
        self.calls[operation] += 1
        await asyncio.sleep(0)  # a real call yields to other tasks
        queued = self._failures[operation]
        failure = queued.popleft() if queued else None
        if failure is not None and not failure.after:
            raise failure.error
        try:
            result = run()
        except DomainError:
            if failure is None:
                raise
            raise failure.error from None  # Stripe's own answer is lost with the connection
        if failure is not None:
            raise failure.error
        return result

    def _idempotent(self, operation: str, key: str, params: object, run: Callable[[], T]) -> T:
        if not key:
            raise ValueError("every Stripe POST needs an idempotency key")
        saved = self._answers.get(key)
        if saved is not None:
            if (saved.operation, saved.params) != (operation, repr(params)):
                raise FailedPrecondition(
                    "the same idempotency key was used with different parameters",
                    reason="PROCESSOR_IDEMPOTENCY_CONFLICT",
                )
            self.replays[operation] += 1
            if isinstance(saved.outcome, ProcessorCardDeclined):
                raise saved.outcome
            return cast("T", saved.outcome)
        try:
            result = run()
        except ProcessorCardDeclined as declined:  # a decline is an answer Stripe keeps
            self._answers[key] = _Answer(operation, repr(params), declined)
            raise
        self._answers[key] = _Answer(operation, repr(params), result)
        return result

    def _next_decline(self, card: Card) -> _Decline | None:
        if self._declines:
            return self._declines.popleft()
        if card.decline_code is not None:
            return _Decline("card_declined", card.decline_code, "Your card was declined.")
        return None

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._sequence):08d}"

    @staticmethod
    def _now() -> int:
        return int(time.time())
