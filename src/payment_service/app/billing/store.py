"""Reading and writing subscriptions and invoices: row locks, Stripe's answers stored
with their request record and audit row, the cache kept in step after each commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from payment_service.app.billing.rules import (
    BillingRules,
    invoice_cache_key,
    subscription_cache_key,
)
from payment_service.app.billing.sync import Synced, apply_subscription, store_invoice
from payment_service.app.common.audit import audit_entry, audit_refresh
from payment_service.app.common.entity_codec import decode_entity, encode_entity
from payment_service.app.common.replay import MutationRequest, record
from payment_service.app.payments.rules import cache_key as payment_cache_key
from payment_service.app.ports.cache import Cache
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.billing import RemoteInvoice, RemoteSubscription
from payment_service.domain.caller import Caller
from payment_service.domain.clock import api_read_time
from payment_service.domain.entities import Invoice, Subscription
from payment_service.domain.errors import NotFound

E = TypeVar("E", Subscription, Invoice)


@dataclass
class BillingStore:
    uow_factory: UnitOfWorkFactory
    cache: Cache
    rules: BillingRules

    async def subscription(self, caller: Caller, subscription_id: str) -> Subscription:
        """The caller's subscription, from the cache when it is there; NOT_FOUND otherwise."""

        async def load(uow: UnitOfWork) -> Subscription | None:
            return await uow.subscriptions.get(subscription_id)

        key = subscription_cache_key(subscription_id)
        return await self._visible(
            caller, Subscription, key, load, ("subscription", subscription_id)
        )

    async def invoice(self, caller: Caller, invoice_id: str) -> Invoice:
        async def load(uow: UnitOfWork) -> Invoice | None:
            return await uow.invoices.get(invoice_id)

        key = invoice_cache_key(invoice_id)
        return await self._visible(caller, Invoice, key, load, ("invoice", invoice_id))

    async def _visible(
        self,
        caller: Caller,
        cls: type[E],
        key: str,
        load: Callable[[UnitOfWork], Awaitable[E | None]],
        subject: tuple[str, str],
    ) -> E:
        found = await self._cached(cls, key)
        if found is None:
            async with self.uow_factory(read_only=True) as uow:
                found = await load(uow)
            if found is not None:
                await self.publish(found)
        if found is None or not caller.may_access(found.account_id):
            raise NotFound(*subject)
        return found

    @staticmethod
    async def locked_subscription(uow: UnitOfWork, subscription_id: str) -> Subscription:
        found = await uow.subscriptions.get_for_update(subscription_id)
        if found is None:
            raise NotFound("subscription", subscription_id)
        return found

    async def store_subscription(
        self,
        subscription_id: str,
        remote: RemoteSubscription,
        *,
        actor: str,
        action: str | None,
        request: MutationRequest | None = None,
    ) -> Synced:
        """Stripe's answer to our own call (audited as ``action``) or a read (``None``), with
        the lease given back and the request recorded."""
        async with self.uow_factory() as uow:
            subscription = await self.locked_subscription(uow, subscription_id)
            subscription.lease_until = None
            synced = await apply_subscription(uow, subscription, remote, api_read_time())
            if request is not None:
                await record(uow, request, subscription.id)
            await audit_sync(uow, actor, action, synced, ("subscription", subscription.id))
            await uow.commit()
        await self.published(synced)
        return synced

    async def store_invoice(
        self,
        remote: RemoteInvoice,
        *,
        actor: str,
        action: str | None,
        request: MutationRequest | None = None,
    ) -> Synced:
        async with self.uow_factory() as uow:
            synced = await store_invoice(uow, remote, api_read_time())
            if synced.invoice is None:
                raise NotFound("invoice", remote.stripe_id)
            if request is not None:
                await record(uow, request, synced.invoice.id)
            await audit_sync(uow, actor, action, synced, ("invoice", synced.invoice.id))
            await uow.commit()
        await self.published(synced)
        return synced

    async def published(self, synced: Synced) -> None:
        """Put what a sync committed in the cache (payments are just forgotten)."""
        if synced.subscription is not None:
            await self.publish(synced.subscription)
        if synced.invoice is not None:
            await self.publish(synced.invoice)
        if synced.payment is not None:
            await self.cache.delete(payment_cache_key(synced.payment.id))

    async def publish(self, entity: Subscription | Invoice) -> None:
        key = (
            subscription_cache_key(entity.id)
            if isinstance(entity, Subscription)
            else invoice_cache_key(entity.id)
        )
        await self.cache.put(key, entity.version, encode_entity(entity), self.rules.cache_ttl_s)

    async def _cached(self, cls: type[E], key: str) -> E | None:
        data = await self.cache.get(key)
        if data is None:
            return None
        try:
            return decode_entity(cls, data)
        except (ValueError, TypeError, KeyError):
            await self.cache.delete(key)
            return None


async def audit_sync(
    uow: UnitOfWork, actor: str, action: str | None, synced: Synced, subject: tuple[str, str]
) -> None:
    """Our own call is audited as ``action``; a read (``None``) only when it changed the row,
    as ``<type>s.refresh`` by whoever is acting (the reconciler, an operator's sync)."""
    if action is not None:
        await uow.audit.add(audit_entry(actor, action, subject))
    elif synced.changed:
        await audit_refresh(uow, f"{subject[0]}s.refresh", subject, "ok", {})
