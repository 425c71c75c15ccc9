"""Stripe's SetupIntent JSON -> ``RemoteSetupIntent``, today's API and localstripe's alike
(localstripe has no ``last_setup_error``: read as none)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from payment_service.adapters.stripe.mapping import (
    _id,
    _int,
    _intent_fields,
    _lookup,
    _metadata,
    to_payment_error,
)
from payment_service.domain.setup_intents import RemoteSetupIntent
from payment_service.domain.states import PaymentMethodUsage, SetupIntentState

Obj = Mapping[str, Any]
_STATES = {
    state.value: state
    for state in SetupIntentState
    if state not in (SetupIntentState.PENDING, SetupIntentState.FAILED)
}
_USAGES = {usage.value: usage for usage in PaymentMethodUsage}


def to_setup_intent(obj: Obj) -> RemoteSetupIntent:
    return RemoteSetupIntent(
        stripe_id=_id(obj),
        state=_lookup(_STATES, obj.get("status"), "SetupIntent status"),
        usage=_lookup(_USAGES, obj.get("usage") or "off_session", "SetupIntent usage"),
        **_intent_fields(obj),
        last_error=to_payment_error(obj.get("last_setup_error")),
        metadata=_metadata(obj.get("metadata")),
        created=_int(obj.get("created")) or 0,
    )
