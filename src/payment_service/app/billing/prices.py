"""ListPrices and the price catalogue: recurring prices mirrored from Stripe.

Prices are made in Stripe (dashboard, API); this service mirrors the recurring
ones and answers ListPrices from its own table, each page cached briefly.
``price.*`` and ``product.*`` events keep the mirror current; a full re-read
(``sync_if_due``) runs on the first ListPrices of a process and then at most
every ``price_sync_every_s`` (ListPrices and the reconciler both ask), for
events that never came.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from payment_service.app.billing.rules import PRICES_CACHE_KEY, BillingRules
from payment_service.app.common.audit import audit_refresh
from payment_service.app.common.entity_codec import decode_entity, encode_entity
from payment_service.app.ports.billing import BillingProcessor
from payment_service.app.ports.cache import Cache
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.billing import RemotePrice
from payment_service.domain.clock import api_read_time, utcnow
from payment_service.domain.entities import Price
from payment_service.domain.errors import DomainError, FailedPrecondition, NotFound
from payment_service.domain.ids import new_id
from payment_service.domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest

log = logging.getLogger(__name__)


@dataclass
class PriceCatalog:
    uow_factory: UnitOfWorkFactory
    billing: BillingProcessor
    cache: Cache
    rules: BillingRules

    def __post_init__(self) -> None:
        self._synced_at: datetime | None = None
        self._sync_lock = asyncio.Lock()

    async def list_prices(self, page: PageRequest, *, include_inactive: bool) -> Page[Price]:
        await self.sync_if_due()
        key = f"{PRICES_CACHE_KEY}:{int(include_inactive)}:{page.size}:{page.page_token}"
        hit = await self.cache.get(key)
        if hit is not None:
            return _decode_page(hit)
        async with self.uow_factory(read_only=True) as uow:
            found = await uow.prices.list_prices(page=page, include_inactive=include_inactive)
        version = int(utcnow().timestamp() * 1000)
        await self.cache.put(key, version, _encode_page(found), self.rules.price_cache_ttl_s)
        return found

    async def subscribable(self, price_id: str) -> Price:
        """The price a subscription may start on or change to (active, recurring)."""
        async with self.uow_factory(read_only=True) as uow:
            price = await uow.prices.get(price_id)
        if price is None:
            raise NotFound("price", price_id)
        if not price.active:
            raise FailedPrecondition(
                f"price {price_id} is no longer active",
                reason="PRICE_INACTIVE",
                metadata={"price_id": price_id},
            )
        return price

    async def sync_if_due(self) -> int:
        """``sync`` unless this process did one within ``price_sync_every_s`` (one at a time).
        A failed read is logged and the stored catalogue stands."""
        if not self._sync_due():
            return 0
        async with self._sync_lock:
            if not self._sync_due():
                return 0
            try:
                changed = await self.sync()
            except DomainError as error:
                log.warning("could not read prices from Stripe", extra={"reason": error.reason})
                return 0
            self._synced_at = utcnow()
            return changed

    def _sync_due(self) -> bool:
        last = self._synced_at
        return last is None or utcnow() - last >= timedelta(seconds=self.rules.price_sync_every_s)

    async def sync(self) -> int:
        """Mirror every recurring price Stripe has; the number of prices added or changed."""
        remote_prices = await self.billing.list_prices()
        changed = 0
        async with self.uow_factory() as uow:
            for remote in remote_prices:
                if await store_price(uow, remote, api_read_time()):
                    changed += 1
                    await audit_refresh(uow, "prices.sync", ("price", remote.stripe_id), "ok", {})
            await uow.commit()
        if changed:
            await forget_price_pages(self.cache)
        return changed


async def store_price(uow: UnitOfWork, remote: RemotePrice, observed_at: datetime) -> bool:
    """Insert or update the mirror of one price; False when unchanged, stale or not recurring."""
    if remote.interval is None or remote.unit_amount is None:
        return False
    price = await uow.prices.find_by_stripe_id(remote.stripe_id)
    if price is None:
        await uow.prices.add(
            Price(
                id=new_id("price"),
                stripe_price_id=remote.stripe_id,
                product_name=remote.product_name or remote.product or remote.stripe_id,
                unit_amount=remote.unit_amount,
                currency=remote.currency.lower(),
                interval=remote.interval,
                interval_count=remote.interval_count or 1,
                active=remote.active,
                stripe_product_id=remote.product,
                remote_updated_at=observed_at,
            )
        )
        return True
    if price.remote_updated_at is not None and observed_at < price.remote_updated_at:
        return False
    before = (price.product_name, price.active, price.stripe_product_id)
    price.product_name = remote.product_name or price.product_name
    price.active = remote.active
    price.stripe_product_id = remote.product or price.stripe_product_id
    price.remote_updated_at = observed_at
    if (price.product_name, price.active, price.stripe_product_id) == before:
        return False
    price.update_time = utcnow()
    await uow.prices.update(price)
    return True


async def rename_product(uow: UnitOfWork, stripe_product_id: str, name: str) -> int:
    """A product's new name on each of its prices; how many changed."""
    changed = 0
    for price in await uow.prices.list_for_product(stripe_product_id):
        if price.product_name != name:
            price.product_name = name
            price.update_time = utcnow()
            await uow.prices.update(price)
            changed += 1
    return changed


def price_page_keys() -> tuple[str, ...]:
    """The cached first pages of the usual sizes (other pages expire within the short TTL)."""
    sizes = (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    return tuple(f"{PRICES_CACHE_KEY}:{flag}:{size}:" for flag in (0, 1) for size in sizes)


async def forget_price_pages(cache: Cache) -> None:
    await cache.delete(*price_page_keys())


def _encode_page(page: Page[Price]) -> bytes:
    items = [json.loads(encode_entity(price)) for price in page.items]
    return json.dumps({"items": items, "next": page.next_page_token}).encode()


def _decode_page(data: bytes) -> Page[Price]:
    body = json.loads(data)
    items = [decode_entity(Price, json.dumps(item).encode()) for item in body["items"]]
    return Page(items=items, next_page_token=body["next"])


async def our_price_ids(uow: UnitOfWork, stripe_ids: Iterable[str | None]) -> dict[str, str]:
    """Stripe price id -> our price id, for the ones this service mirrors."""
    found: dict[str, str] = {}
    for stripe_id in stripe_ids:
        if stripe_id and (price := await uow.prices.find_by_stripe_id(stripe_id)) is not None:
            found[stripe_id] = price.id
    return found
