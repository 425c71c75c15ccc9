"""SetupIntents as the use cases see Stripe (adapters/stripe/setup_intent_gateway.py).

Every create takes an ``idempotency_key`` from our row id (app/ports/processor.py's
``idempotency_key``); errors are the PaymentProcessor's domain errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from payment_service.domain.setup_intents import NewSetupIntent, RemoteSetupIntent

SETUP_INTENT_ID_KEY = "setup_intent_id"  # our id, in the SetupIntent's metadata


class SetupIntentProcessor(Protocol):
    async def create_setup_intent(
        self, intent: NewSetupIntent, *, idempotency_key: str
    ) -> RemoteSetupIntent:
        """A card SetupIntent for the customer, unconfirmed (the client confirms it)."""
        ...

    async def retrieve_setup_intent(self, stripe_id: str) -> RemoteSetupIntent: ...


class SetupIntentMapping(Protocol):
    """Stripe's SetupIntent JSON -> snapshot (adapters/stripe/setup_intent_mapping.py)."""

    def to_setup_intent(self, obj: Mapping[str, Any]) -> RemoteSetupIntent: ...
