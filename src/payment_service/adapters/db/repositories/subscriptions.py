"""Subscriptions; their items and pending payment action are JSON (see ``_codec``)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from payment_service.adapters.db.repositories._base import (
    RefreshedSqlRepository,
    RequestedSqlRepository,
    state_in,
)
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.tables import subscriptions
from payment_service.domain.entities import Subscription
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.states import SubscriptionState


class SqlSubscriptionRepository(
    RefreshedSqlRepository[Subscription], RequestedSqlRepository[Subscription]
):
    table = subscriptions
    codec = RowCodec(Subscription)
    account_list = "subscriptions"

    async def list_in_states(
        self, states: Collection[SubscriptionState], *, page: PageRequest
    ) -> Page[Subscription]:
        filters = {"list": "subscriptions.states", "states": states}
        return await self._page(state_in(self.table, states), page, filters)

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[Subscription]:
        c = subscriptions.c
        unsent = (c.stripe_subscription_id.is_(None), c.state == SubscriptionState.INCOMPLETE.value)
        return await self._created_before(older_than, limit, *unsent)
