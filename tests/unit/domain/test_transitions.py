"""Every pair of states of every table: allowed exactly when the lifecycle below says so."""

from __future__ import annotations

from enum import StrEnum
from itertools import product

import pytest

from payment_service.domain.errors import FailedPrecondition, InvalidTransition
from payment_service.domain.states import (
    InvoiceState,
    PaymentMethodState,
    PaymentState,
    RefundState,
    SubscriptionState,
    WebhookEventState,
)
from payment_service.domain.transitions import (
    INVOICE_TRANSITIONS,
    PAYMENT_METHOD_TRANSITIONS,
    PAYMENT_TRANSITIONS,
    REFUND_TRANSITIONS,
    SUBSCRIPTION_TRANSITIONS,
    WEBHOOK_EVENT_TRANSITIONS,
    TransitionTable,
)

N, M, P = InvoiceState, PaymentMethodState, PaymentState
R, S, W = RefundState, SubscriptionState, WebhookEventState

_P_LIVE = {
    P.REQUIRES_PAYMENT_METHOD,
    P.REQUIRES_CONFIRMATION,
    P.REQUIRES_ACTION,
    P.PROCESSING,
    P.REQUIRES_CAPTURE,
    P.SUCCEEDED,
    P.CANCELED,
}

EXPECTED: dict[str, tuple[TransitionTable, dict, set]] = {  # type: ignore[type-arg]
    "payment": (
        PAYMENT_TRANSITIONS,
        {
            P.PENDING: _P_LIVE | {P.FAILED},
            P.REQUIRES_PAYMENT_METHOD: _P_LIVE - {P.REQUIRES_PAYMENT_METHOD},
            P.REQUIRES_CONFIRMATION: _P_LIVE - {P.REQUIRES_CONFIRMATION},
            P.REQUIRES_ACTION: _P_LIVE - {P.REQUIRES_ACTION},
            P.PROCESSING: _P_LIVE - {P.PROCESSING, P.REQUIRES_CONFIRMATION},
            P.REQUIRES_CAPTURE: {P.PROCESSING, P.SUCCEEDED, P.CANCELED},
        },
        {P.SUCCEEDED, P.CANCELED, P.FAILED},
    ),
    "refund": (
        REFUND_TRANSITIONS,
        {
            R.PENDING: {R.REQUIRES_ACTION, R.SUCCEEDED, R.FAILED, R.CANCELED},
            R.REQUIRES_ACTION: {R.PENDING, R.SUCCEEDED, R.FAILED, R.CANCELED},
            R.SUCCEEDED: {R.FAILED},
        },
        {R.FAILED, R.CANCELED},
    ),
    "payment_method": (PAYMENT_METHOD_TRANSITIONS, {M.ATTACHED: {M.DETACHED}}, {M.DETACHED}),
    "subscription": (
        SUBSCRIPTION_TRANSITIONS,
        {
            S.INCOMPLETE: {S.ACTIVE, S.TRIALING, S.INCOMPLETE_EXPIRED, S.CANCELED},
            S.TRIALING: {S.ACTIVE, S.PAST_DUE, S.UNPAID, S.PAUSED, S.CANCELED},
            S.ACTIVE: {S.TRIALING, S.PAST_DUE, S.UNPAID, S.PAUSED, S.CANCELED},
            S.PAST_DUE: {S.ACTIVE, S.UNPAID, S.PAUSED, S.CANCELED},
            S.UNPAID: {S.ACTIVE, S.PAST_DUE, S.CANCELED},
            S.PAUSED: {S.ACTIVE, S.TRIALING, S.CANCELED},
        },
        {S.CANCELED, S.INCOMPLETE_EXPIRED},
    ),
    "invoice": (
        INVOICE_TRANSITIONS,
        {
            N.DRAFT: {N.OPEN, N.PAID},
            N.OPEN: {N.PAID, N.VOID, N.UNCOLLECTIBLE},
            N.UNCOLLECTIBLE: {N.PAID, N.VOID},
        },
        {N.PAID, N.VOID},
    ),
    "webhook_event": (
        WEBHOOK_EVENT_TRANSITIONS,
        {
            W.RECEIVED: {W.PROCESSED, W.FAILED, W.DEAD, W.QUARANTINED, W.IGNORED},
            W.FAILED: {W.PROCESSED, W.DEAD, W.QUARANTINED, W.IGNORED, W.RECEIVED},
            W.DEAD: {W.RECEIVED, W.IGNORED},
            W.QUARANTINED: {W.RECEIVED, W.IGNORED},
            W.IGNORED: {W.RECEIVED},  # replayed once its type gets a handler
        },
        {W.PROCESSED},
    ),
}


def _pairs() -> list[tuple[str, StrEnum, StrEnum]]:
    cases = []
    for name, (table, _, _) in EXPECTED.items():
        states = list(type(next(iter(table.moves))))
        cases += [(name, a, b) for a, b in product(states, states)]
    return cases


@pytest.mark.parametrize(("name", "current", "target"), _pairs())
def test_every_pair(name: str, current: StrEnum, target: StrEnum) -> None:
    table, moves, _ = EXPECTED[name]
    expected = current == target or target in moves.get(current, set())
    assert table.allows(current, target) is expected
    if expected:
        table.check(name, "id_1", current, target)
    else:
        with pytest.raises(InvalidTransition) as info:
            table.check(name, "id_1", current, target)
        assert isinstance(info.value, FailedPrecondition)
        assert info.value.metadata == {
            "entity": name,
            "id": "id_1",
            "state": current.value,
            "target": target.value,
        }


@pytest.mark.parametrize("name", list(EXPECTED))
def test_terminal_states_are_never_left(name: str) -> None:
    table, _, terminal = EXPECTED[name]
    assert table.terminal_states == terminal
    for state in terminal:
        assert table.is_terminal(state)
        others = [s for s in type(state) if s != state]
        assert not any(table.allows(state, other) for other in others)


def test_succeeded_payment_never_returns_to_processing() -> None:
    assert not PAYMENT_TRANSITIONS.allows(P.SUCCEEDED, P.PROCESSING)
