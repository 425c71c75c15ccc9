"""Subscriptions."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import RowMapping, Select, select

from payment_service.adapters.db.repositories._base import (
    SqlRepository,
    by_create_time,
    created_between,
    entity_values,
    state_in,
)
from payment_service.adapters.db.tables import subscriptions
from payment_service.domain.entities import Subscription
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.states import SubscriptionState


def _to_entity(row: RowMapping) -> Subscription:
    return Subscription(**{**row, "state": SubscriptionState(row["state"])})


class SqlSubscriptionRepository(SqlRepository):
    table = subscriptions

    async def _one(self, statement: Select[tuple[object, ...]]) -> Subscription | None:
        row = await self._first(statement)
        return _to_entity(row) if row else None

    async def get(self, subscription_id: str) -> Subscription | None:
        return await self._one(select(subscriptions).where(subscriptions.c.id == subscription_id))

    async def get_for_update(self, subscription_id: str) -> Subscription | None:
        statement = select(subscriptions).where(subscriptions.c.id == subscription_id)
        return await self._one(statement.with_for_update())

    async def find_by_request(self, caller: str, request_id: str) -> Subscription | None:
        statement = select(subscriptions).where(
            subscriptions.c.caller == caller, subscriptions.c.request_id == request_id
        )
        return await self._one(statement)

    async def find_by_stripe_id(
        self, stripe_subscription_id: str, *, for_update: bool = False
    ) -> Subscription | None:
        statement = select(subscriptions).where(
            subscriptions.c.stripe_subscription_id == stripe_subscription_id
        )
        return await self._one(statement.with_for_update() if for_update else statement)

    async def list_for_account(
        self,
        account_id: str,
        *,
        page: PageRequest,
        states: Collection[SubscriptionState] = (),
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Page[Subscription]:
        conditions = [
            subscriptions.c.account_id == account_id,
            *state_in(self.table, states),
            *created_between(self.table, created_after, created_before),
        ]
        filters = {
            "list": "subscriptions",
            "account_id": account_id,
            "states": states,
            "created_after": created_after,
            "created_before": created_before,
        }
        return await self._keyset_page(conditions, page, filters, _to_entity, by_create_time)

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[Subscription]:
        statement = (
            select(subscriptions)
            .where(
                subscriptions.c.stripe_subscription_id.is_(None),
                subscriptions.c.state == SubscriptionState.INCOMPLETE.value,
                subscriptions.c.create_time < older_than,
            )
            .order_by(subscriptions.c.create_time)
            .limit(limit)
        )
        return [_to_entity(row) for row in await self._all(statement)]

    async def add(self, subscription: Subscription) -> None:
        await self._insert(entity_values(subscription))

    async def update(self, subscription: Subscription) -> None:
        values = entity_values(subscription, skip=("id", "create_time", "version", "update_time"))
        await self._update_versioned(subscription, values)
