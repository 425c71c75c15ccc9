"""Stripe's SetupIntent JSON -> ``RemoteSetupIntent``, today's API and localstripe's alike
(localstripe has no ``last_setup_error``: read as none)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from payment_service.adapters.stripe.mapping import (
    _id,
    _int,
    _lookup,
    _metadata,
    _next_action,
    _ref,
    _str,
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
    action_type, action_url = _next_action(obj)
    return RemoteSetupIntent(
        stripe_id=_id(obj),
        state=_lookup(_STATES, obj.get("status"), "SetupIntent status"),
        usage=_lookup(_USAGES, obj.get("usage") or "off_session", "SetupIntent usage"),
        customer=_ref(obj.get("customer")),
        payment_method=_ref(obj.get("payment_method")),
        client_secret=_str(obj.get("client_secret")),
        next_action_type=action_type,
        next_action_url=action_url,
        last_error=to_payment_error(obj.get("last_setup_error")),
        metadata=_metadata(obj.get("metadata")),
        created=_int(obj.get("created")) or 0,
    )
