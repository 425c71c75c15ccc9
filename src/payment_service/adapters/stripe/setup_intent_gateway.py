"""StripeSetupIntentGateway: the SetupIntentProcessor over the shared Stripe connection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import stripe
from stripe.params import SetupIntentCreateParams

from payment_service.adapters.stripe import setup_intent_mapping
from payment_service.adapters.stripe.connection import StripeCalls
from payment_service.adapters.stripe.errors import CallContext
from payment_service.app.ports.setup_intents import SETUP_INTENT_ID_KEY
from payment_service.domain.setup_intents import NewSetupIntent, RemoteSetupIntent


class StripeSetupIntentGateway(StripeCalls):
    async def _setup_intent(
        self, ctx: CallContext, call: Callable[[], Awaitable[stripe.SetupIntent]]
    ) -> RemoteSetupIntent:
        async def mapped() -> RemoteSetupIntent:
            return setup_intent_mapping.to_setup_intent((await call()).to_dict())

        return await self._call(ctx, mapped)

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
        options = self._post(idempotency_key)
        return await self._setup_intent(
            CallContext("create_setup_intent", "setup_intent"),
            lambda: self._client.v1.setup_intents.create_async(params, options),
        )

    async def retrieve_setup_intent(self, stripe_id: str) -> RemoteSetupIntent:
        return await self._setup_intent(
            CallContext("retrieve_setup_intent", "setup_intent", stripe_id),
            lambda: self._client.v1.setup_intents.retrieve_async(stripe_id),
        )
