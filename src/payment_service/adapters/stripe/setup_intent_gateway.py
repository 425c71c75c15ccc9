"""StripeSetupIntentGateway: the SetupIntentProcessor over the shared Stripe connection."""

from __future__ import annotations

from stripe.params import SetupIntentCreateParams

from payment_service.adapters.stripe import setup_intent_mapping
from payment_service.adapters.stripe.connection import ObjectKind, StripeCalls
from payment_service.app.ports.setup_intents import SETUP_INTENT_ID_KEY
from payment_service.domain.setup_intents import NewSetupIntent, RemoteSetupIntent

SETUP_INTENT = ObjectKind("setup_intent", setup_intent_mapping.to_setup_intent)


class StripeSetupIntentGateway(StripeCalls):
    async def create_setup_intent(
        self, intent: NewSetupIntent, *, idempotency_key: str
    ) -> RemoteSetupIntent:
        params: SetupIntentCreateParams = {
            "customer": intent.customer,
            "usage": intent.usage.value,
            "metadata": self._metadata(
                intent.metadata, **{SETUP_INTENT_ID_KEY: intent.setup_intent_id}
            ),
        }
        return await self._create(
            SETUP_INTENT, self._client.v1.setup_intents.create_async, params, idempotency_key
        )

    async def retrieve_setup_intent(self, stripe_id: str) -> RemoteSetupIntent:
        return await self._retrieve(
            SETUP_INTENT, self._client.v1.setup_intents.retrieve_async, stripe_id
        )
