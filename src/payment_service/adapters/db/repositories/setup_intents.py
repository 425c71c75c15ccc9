"""SetupIntents: cards being saved for later payments."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from payment_service.adapters.db.repositories._base import PendingFirstSqlRepository
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.tables import setup_intents
from payment_service.domain.entities import SetupIntent
from payment_service.domain.states import SetupIntentState


class SqlSetupIntentRepository(PendingFirstSqlRepository[SetupIntent]):
    table = setup_intents
    codec = RowCodec(SetupIntent)
    stripe_id = "stripe_setup_intent_id"
    pending_state = SetupIntentState.PENDING
    account_list = "setup_intents"

    async def list_to_refresh(
        self, states: Collection[SetupIntentState], older_than: datetime, *, limit: int = 100
    ) -> list[SetupIntent]:
        known = setup_intents.c.stripe_setup_intent_id.is_not(None)
        return await self._refresh_queue(states, older_than, limit, known)
