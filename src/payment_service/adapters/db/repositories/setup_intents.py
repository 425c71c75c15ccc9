"""SetupIntents: cards being saved for later payments."""

from __future__ import annotations

from payment_service.adapters.db.repositories._base import (
    PendingFirstSqlRepository,
    RefreshedSqlRepository,
)
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.tables import setup_intents
from payment_service.domain.entities import SetupIntent
from payment_service.domain.states import SetupIntentState


class SqlSetupIntentRepository(
    RefreshedSqlRepository[SetupIntent], PendingFirstSqlRepository[SetupIntent]
):
    table = setup_intents
    codec = RowCodec(SetupIntent)
    pending_state = SetupIntentState.PENDING
    account_list = "setup_intents"
