"""Prices, subscriptions and invoices over the real tables: their lists and work queues,
optimistic updates, and the constraints of the billing columns."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from payment_service.adapters.db.tables import subscriptions
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.app.ports.list_filters import InvoiceFilter
from payment_service.domain.entities import Customer, Price, Subscription
from payment_service.domain.errors import Aborted, InvalidArgument
from payment_service.domain.pagination import PageRequest
from payment_service.domain.states import InvoiceState, SubscriptionState

from . import builders as b

T0 = b.T0


async def _parents(uow_factory: SqlUnitOfWorkFactory) -> tuple[Customer, Price]:
    c, pr = b.customer(), b.price()
    async with uow_factory() as uow:
        await uow.customers.add(c)
        await uow.prices.add(pr)
        await uow.commit()
    return c, pr


async def test_prices_listed_newest_first_and_per_product(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    old = b.price(create_time=T0)
    new = b.price(create_time=T0 + timedelta(hours=1), stripe_product_id="prod_other")
    retired = b.price(create_time=T0 + timedelta(hours=2), active=False)
    async with uow_factory() as uow:
        for pr in (old, new, retired):
            await uow.prices.add(pr)
        await uow.commit()
    async with uow_factory() as uow:
        active = await uow.prices.list_prices(page=b.page(), include_inactive=False)
        assert [pr.id for pr in active.items] == [new.id, old.id]
        first = await uow.prices.list_prices(page=b.page(2), include_inactive=True)
        assert [pr.id for pr in first.items] == [retired.id, new.id]
        rest = await uow.prices.list_prices(
            page=b.page(2, first.next_page_token), include_inactive=True
        )
        assert [pr.id for pr in rest.items] == [old.id]
        with pytest.raises(InvalidArgument):
            await uow.prices.list_prices(
                page=b.page(2, first.next_page_token), include_inactive=False
            )
        assert await uow.prices.list_for_product("prod_pro") == [old, retired]
        assert await uow.prices.list_for_product("prod_none") == []


async def test_the_dunning_list_pages_across_accounts(uow_factory: SqlUnitOfWorkFactory) -> None:
    c1, pr = await _parents(uow_factory)
    c2 = b.customer()
    rows = [
        b.subscription(c, pr, state=state, create_time=T0 + timedelta(minutes=n))
        for n, (c, state) in enumerate(
            [
                (c1, SubscriptionState.PAST_DUE),
                (c2, SubscriptionState.UNPAID),
                (c1, SubscriptionState.ACTIVE),
                (c2, SubscriptionState.PAST_DUE),
                (c1, SubscriptionState.PAST_DUE),
            ]
        )
    ]
    async with uow_factory() as uow:
        await uow.customers.add(c2)
        for s in rows:
            await uow.subscriptions.add(s)
        await uow.commit()
    dunning = [SubscriptionState.PAST_DUE, SubscriptionState.UNPAID]
    seen: list[str] = []
    token = ""
    async with uow_factory() as uow:
        while True:
            page = await uow.subscriptions.list_in_states(dunning, page=PageRequest(2, token))
            seen += [s.id for s in page.items]
            if not (token := page.next_page_token):
                break
        mine = await uow.subscriptions.list_for_account(
            c1.account_id, page=b.page(), states=[SubscriptionState.PAST_DUE]
        )
    assert seen == [rows[4].id, rows[3].id, rows[1].id, rows[0].id]
    assert [s.id for s in mine.items] == [rows[4].id, rows[0].id]


async def test_subscription_work_queues(uow_factory: SqlUnitOfWorkFactory) -> None:
    c, pr = await _parents(uow_factory)
    cutoff = T0 + timedelta(hours=1)

    def sub(**overrides: object) -> Subscription:
        return b.subscription(c, pr, **overrides)

    unsent_old = sub(stripe_subscription_id=None, state=SubscriptionState.INCOMPLETE)
    unsent_new = sub(
        stripe_subscription_id=None,
        state=SubscriptionState.INCOMPLETE,
        create_time=cutoff + timedelta(seconds=1),
    )
    never_synced = sub(state=SubscriptionState.ACTIVE, synced_at=None)
    stale = sub(state=SubscriptionState.PAST_DUE, synced_at=T0)
    staler = sub(state=SubscriptionState.ACTIVE, synced_at=T0 - timedelta(days=1))
    fresh = sub(state=SubscriptionState.ACTIVE, synced_at=cutoff + timedelta(minutes=1))
    other_state = sub(state=SubscriptionState.CANCELED, synced_at=None)
    async with uow_factory() as uow:
        for s in (unsent_old, unsent_new, never_synced, stale, staler, fresh, other_state):
            await uow.subscriptions.add(s)
        await uow.commit()
    live = [SubscriptionState.ACTIVE, SubscriptionState.PAST_DUE, SubscriptionState.INCOMPLETE]
    async with uow_factory() as uow:
        pending = await uow.subscriptions.list_pending(cutoff)
        refresh = await uow.subscriptions.list_to_refresh(live, cutoff)
        two = await uow.subscriptions.list_to_refresh(live, cutoff, limit=2)
    assert [s.id for s in pending] == [unsent_old.id]
    expected = [never_synced, staler, stale]
    assert [s.id for s in refresh] == [s.id for s in expected]
    assert [s.id for s in two] == [s.id for s in expected[:2]]


async def test_invoices_listed_by_account_subscription_and_state(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    c, pr = await _parents(uow_factory)
    s1, s2 = b.subscription(c, pr), b.subscription(c, pr)
    invoices = [
        b.invoice(c, s, state=state, create_time=T0 + timedelta(minutes=n))
        for n, (s, state) in enumerate(
            [
                (s1, InvoiceState.PAID),
                (s2, InvoiceState.OPEN),
                (s1, InvoiceState.OPEN),
                (None, InvoiceState.DRAFT),
            ]
        )
    ]
    async with uow_factory() as uow:
        await uow.subscriptions.add(s1)
        await uow.subscriptions.add(s2)
        for i in invoices:
            await uow.invoices.add(i)
        await uow.commit()
    ids = [i.id for i in invoices]
    async with uow_factory() as uow:
        of_account = InvoiceFilter(account_id=c.account_id)
        open_of_account = InvoiceFilter(account_id=c.account_id, states=[InvoiceState.OPEN])
        everything = await uow.invoices.list_invoices(of_account, page=b.page())
        of_s1 = await uow.invoices.list_invoices(
            InvoiceFilter(subscription_id=s1.id), page=b.page()
        )
        open_of_s1 = await uow.invoices.list_invoices(
            InvoiceFilter(subscription_id=s1.id, states=[InvoiceState.OPEN]), page=b.page()
        )
        open_here = await uow.invoices.list_invoices(open_of_account, page=b.page(1))
        rest = await uow.invoices.list_invoices(
            open_of_account, page=b.page(1, open_here.next_page_token)
        )
        elsewhere = await uow.invoices.list_invoices(
            InvoiceFilter(account_id="acct_none"), page=b.page()
        )
        with pytest.raises(ValueError, match="an account or"):
            await uow.invoices.list_invoices(InvoiceFilter(), page=b.page())
    assert [i.id for i in everything.items] == ids[::-1]
    assert [i.id for i in of_s1.items] == [ids[2], ids[0]]
    assert [i.id for i in open_of_s1.items] == [ids[2]]
    assert [i.id for i in open_here.items + rest.items] == [ids[2], ids[1]]
    assert rest.next_page_token == ""
    assert elsewhere.items == []


async def test_invoice_refresh_queue(uow_factory: SqlUnitOfWorkFactory) -> None:
    c, _ = await _parents(uow_factory)
    cutoff = T0 + timedelta(hours=1)
    never = b.invoice(c, None, synced_at=None)
    stale = b.invoice(c, None, synced_at=T0)
    fresh = b.invoice(c, None, synced_at=cutoff + timedelta(seconds=1))
    paid = b.invoice(c, None, state=InvoiceState.PAID, synced_at=None)
    async with uow_factory() as uow:
        for i in (stale, never, fresh, paid):
            await uow.invoices.add(i)
        await uow.commit()
    async with uow_factory() as uow:
        queue = await uow.invoices.list_to_refresh([InvoiceState.OPEN], cutoff)
    assert [i.id for i in queue] == [never.id, stale.id]


async def test_a_stale_version_is_refused(uow_factory: SqlUnitOfWorkFactory) -> None:
    c, pr = await _parents(uow_factory)
    s = b.subscription(c, pr)
    i = b.invoice(c, s)
    async with uow_factory() as uow:
        await uow.subscriptions.add(s)
        await uow.invoices.add(i)
        await uow.commit()
    for repository, entity in (("subscriptions", s), ("invoices", i)):
        stale = dataclasses.replace(entity)
        async with uow_factory() as uow:
            await getattr(uow, repository).update(entity)
            await uow.commit()
        async with uow_factory() as uow:
            with pytest.raises(Aborted) as info:
                await getattr(uow, repository).update(stale)
        assert info.value.reason == "CONCURRENT_UPDATE"
        assert stale.version == 0
        assert entity.version == 1


async def test_a_pause_behavior_outside_stripes_is_refused(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    c, pr = await _parents(uow_factory)
    s = b.subscription(c, pr)
    async with uow_factory() as uow:
        await uow.subscriptions.add(s)
        await uow.commit()
    async with uow_factory() as uow:
        statement = update(subscriptions).where(subscriptions.c.id == s.id)
        with pytest.raises(IntegrityError):
            await uow.connection.execute(statement.values(pause_behavior="forever"))


async def test_a_payment_names_an_existing_invoice(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(IntegrityError):
            await uow.payments.add(b.payment(None, invoice_id="inv_missing"))
