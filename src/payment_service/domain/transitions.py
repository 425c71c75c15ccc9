"""State machines: one table of allowed moves per entity. Terminal states have no way out.

A same-state "move" is always an allowed no-op. ``check`` raises for use cases;
``allows`` lets a webhook handler drop a stale or out-of-order update silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar, cast

from payment_service.domain.clock import require_aware, utcnow
from payment_service.domain.errors import InvalidTransition
from payment_service.domain.states import (
    DisputeState,
    InvoiceState,
    PaymentMethodState,
    PaymentState,
    RefundState,
    SetupIntentState,
    SubscriptionState,
    WebhookEventState,
)

S = TypeVar("S", bound=StrEnum)


class Stateful(Protocol[S]):
    """An entity whose ``state`` moves through a table."""

    id: str
    state: S
    update_time: datetime


class RemotelyObserved(Stateful[S], Protocol[S]):
    """An entity that also mirrors a Stripe object and remembers its newest observation."""

    remote_updated_at: datetime | None


@dataclass(frozen=True)
class TransitionTable(Generic[S]):
    """Allowed moves ``current -> targets``; a state missing from ``moves`` is terminal."""

    entity: str
    moves: Mapping[S, frozenset[S]]

    @property
    def terminal_states(self) -> frozenset[S]:
        return frozenset(state for state, targets in self.moves.items() if not targets)

    def is_terminal(self, state: S) -> bool:
        return not self.moves.get(state)

    def allows(self, current: S, target: S) -> bool:
        return current == target or target in self.moves.get(current, frozenset())

    def check(self, entity_name: str, entity_id: str, current: S, target: S) -> None:
        """Raise InvalidTransition (FAILED_PRECONDITION) unless ``current -> target`` is allowed."""
        if not self.allows(current, target):
            raise InvalidTransition(entity_name, entity_id, current.value, target.value)

    def accepts_observation(
        self,
        current: S,
        target: S,
        last_observed_at: datetime | None,
        observed_at: datetime,
    ) -> bool:
        """True when an observation is not older than the last applied one and the move is allowed.

        Equal times are judged by the table alone: Stripe event times have one-second
        resolution, so two events of the same second may arrive in either order.
        """
        observed_at = require_aware(observed_at, "observed_at")
        if last_observed_at is not None and observed_at < last_observed_at:
            return False
        return self.allows(current, target)

    def move(self, entity: Stateful[S], target: S) -> None:
        """Move by our own decision; raise InvalidTransition when the table forbids it."""
        self.check(self.entity, entity.id, entity.state, target)
        if target is not entity.state:
            entity.state = target
            entity.update_time = utcnow()

    def observe(self, entity: RemotelyObserved[S], target: S, observed_at: datetime) -> bool:
        """Apply a state seen at Stripe; False (and no change) when stale or not allowed."""
        if not self.accepts_observation(
            entity.state, target, entity.remote_updated_at, observed_at
        ):
            return False
        entity.state = target
        entity.remote_updated_at = observed_at
        entity.update_time = utcnow()
        return True


_BY_STATES: dict[type[StrEnum], TransitionTable[Any]] = {}


def table_for(state: S) -> TransitionTable[S]:
    """The table of the state's enum: each state enum has exactly one."""
    return cast(TransitionTable[S], _BY_STATES[type(state)])


def _table(entity: str, states: type[S], moves: Mapping[S, Iterable[S]]) -> TransitionTable[S]:
    full = {state: frozenset(moves.get(state, ())) for state in states}
    table = _BY_STATES[states] = TransitionTable(entity, full)
    return table


_P = PaymentState
_PAYMENT_ANY_LIVE = (
    _P.REQUIRES_PAYMENT_METHOD,
    _P.REQUIRES_CONFIRMATION,
    _P.REQUIRES_ACTION,
    _P.PROCESSING,
    _P.REQUIRES_CAPTURE,
    _P.SUCCEEDED,
    _P.CANCELED,
)


def _live_except(*excluded: PaymentState) -> tuple[PaymentState, ...]:
    return tuple(state for state in _PAYMENT_ANY_LIVE if state not in excluded)


# An unsettled PaymentIntent may go to any other live state: back to
# requires_payment_method when 3DS fails or is abandoned (requires_action) or an
# asynchronous payment fails (processing); a processing one is never unconfirmed again.
PAYMENT_TRANSITIONS: TransitionTable[PaymentState] = _table(
    "payment",
    PaymentState,
    {
        _P.PENDING: (*_PAYMENT_ANY_LIVE, _P.FAILED),
        _P.REQUIRES_PAYMENT_METHOD: _live_except(_P.REQUIRES_PAYMENT_METHOD),
        _P.REQUIRES_CONFIRMATION: _live_except(_P.REQUIRES_CONFIRMATION),
        _P.REQUIRES_ACTION: _live_except(_P.REQUIRES_ACTION),
        _P.PROCESSING: _live_except(_P.PROCESSING, _P.REQUIRES_CONFIRMATION),
        _P.REQUIRES_CAPTURE: (_P.PROCESSING, _P.SUCCEEDED, _P.CANCELED),
    },
)

_R = RefundState
REFUND_TRANSITIONS: TransitionTable[RefundState] = _table(
    "refund",
    RefundState,
    {
        _R.PENDING: (_R.REQUIRES_ACTION, _R.SUCCEEDED, _R.FAILED, _R.CANCELED),
        _R.REQUIRES_ACTION: (_R.PENDING, _R.SUCCEEDED, _R.FAILED, _R.CANCELED),
        _R.SUCCEEDED: (_R.FAILED,),  # Stripe may fail a refund after reporting success
    },
)

PAYMENT_METHOD_TRANSITIONS: TransitionTable[PaymentMethodState] = _table(
    "payment_method",
    PaymentMethodState,
    {PaymentMethodState.ATTACHED: (PaymentMethodState.DETACHED,)},
)

_S = SubscriptionState
SUBSCRIPTION_TRANSITIONS: TransitionTable[SubscriptionState] = _table(
    "subscription",
    SubscriptionState,
    {
        _S.INCOMPLETE: (_S.ACTIVE, _S.TRIALING, _S.INCOMPLETE_EXPIRED, _S.CANCELED),
        _S.TRIALING: (_S.ACTIVE, _S.PAST_DUE, _S.UNPAID, _S.PAUSED, _S.CANCELED),
        _S.ACTIVE: (_S.TRIALING, _S.PAST_DUE, _S.UNPAID, _S.PAUSED, _S.CANCELED),
        _S.PAST_DUE: (_S.ACTIVE, _S.UNPAID, _S.PAUSED, _S.CANCELED),
        _S.UNPAID: (_S.ACTIVE, _S.PAST_DUE, _S.CANCELED),
        _S.PAUSED: (_S.ACTIVE, _S.TRIALING, _S.CANCELED),
    },
)

_I = InvoiceState
INVOICE_TRANSITIONS: TransitionTable[InvoiceState] = _table(
    "invoice",
    InvoiceState,
    {
        _I.DRAFT: (_I.OPEN, _I.PAID),  # a zero-amount invoice is paid when finalized
        _I.OPEN: (_I.PAID, _I.VOID, _I.UNCOLLECTIBLE),
        _I.UNCOLLECTIBLE: (_I.PAID, _I.VOID),
    },
)

_SI = SetupIntentState
_SETUP_LIVE = (
    _SI.REQUIRES_PAYMENT_METHOD,
    _SI.REQUIRES_CONFIRMATION,
    _SI.REQUIRES_ACTION,
    _SI.PROCESSING,
    _SI.SUCCEEDED,
    _SI.CANCELED,
)
# Like a PaymentIntent: an unsettled SetupIntent may go to any other live state (a failed
# authentication sends it back to requires_payment_method).
SETUP_INTENT_TRANSITIONS: TransitionTable[SetupIntentState] = _table(
    "setup_intent",
    SetupIntentState,
    {
        _SI.PENDING: (*_SETUP_LIVE, _SI.FAILED),
        _SI.REQUIRES_PAYMENT_METHOD: _SETUP_LIVE,
        _SI.REQUIRES_CONFIRMATION: _SETUP_LIVE,
        _SI.REQUIRES_ACTION: _SETUP_LIVE,
        _SI.PROCESSING: (_SI.REQUIRES_PAYMENT_METHOD, _SI.SUCCEEDED, _SI.CANCELED),
    },
)

_D = DisputeState
# An inquiry (warning_*) is answered, closed, or escalated to a chargeback; a chargeback
# is answered and then won or lost (accepting it, or no answer in time, loses it).
DISPUTE_TRANSITIONS: TransitionTable[DisputeState] = _table(
    "dispute",
    DisputeState,
    {
        _D.WARNING_NEEDS_RESPONSE: (_D.WARNING_UNDER_REVIEW, _D.WARNING_CLOSED, _D.NEEDS_RESPONSE),
        _D.WARNING_UNDER_REVIEW: (_D.WARNING_CLOSED, _D.NEEDS_RESPONSE),
        _D.NEEDS_RESPONSE: (_D.UNDER_REVIEW, _D.WON, _D.LOST),
        _D.UNDER_REVIEW: (_D.WON, _D.LOST),
    },
)

_W = WebhookEventState
WEBHOOK_EVENT_TRANSITIONS: TransitionTable[WebhookEventState] = _table(
    "webhook_event",
    WebhookEventState,
    {
        _W.RECEIVED: (_W.PROCESSED, _W.FAILED, _W.DEAD, _W.QUARANTINED, _W.IGNORED),
        _W.FAILED: (_W.PROCESSED, _W.DEAD, _W.QUARANTINED, _W.IGNORED, _W.RECEIVED),
        _W.DEAD: (_W.RECEIVED, _W.IGNORED),  # replay, or an operator gives up on it
        _W.QUARANTINED: (_W.RECEIVED, _W.IGNORED),
        # Not terminal: an event stored while nothing handled its type (subscriptions,
        # invoices before their capability lands) is replayed once a handler exists.
        _W.IGNORED: (_W.RECEIVED,),
    },
)
