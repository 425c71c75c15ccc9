"""What Stripe says about a SetupIntent (an immutable snapshot), and what one is created with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from payment_service.domain.processor import OwnId, RemoteIntent
from payment_service.domain.states import PaymentMethodUsage, SetupIntentState


@dataclass(frozen=True, slots=True)
class NewSetupIntent:
    """A card SetupIntent for a customer; ``metadata`` gets our ``setup_intent_id`` added."""

    setup_intent_id: str
    customer: str
    usage: PaymentMethodUsage
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteSetupIntent(RemoteIntent):
    stripe_id: str
    state: SetupIntentState
    usage: PaymentMethodUsage
    metadata: Mapping[str, str]
    created: int

    setup_intent_id = OwnId("setup_intent_id")
