"""Keyset pagination over the real tables."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.domain.clock import utcnow
from payment_service.domain.errors import InvalidArgument
from payment_service.domain.pagination import PageRequest
from payment_service.domain.states import PaymentState

from . import builders as b

ACCOUNT = "acct_pages"


async def _seed(uow_factory: SqlUnitOfWorkFactory, count: int) -> list[str]:
    ids = []
    async with uow_factory() as uow:
        for n in range(count):
            # Pairs share a create_time so the id tie-break matters.
            created = b.T0 + timedelta(seconds=n // 2)
            p = b.payment(None, account_id=ACCOUNT, create_time=created)
            await uow.payments.add(p)
            ids.append(p.id)
        await uow.commit()
    return ids


async def test_every_row_exactly_once_while_rows_are_inserted(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """Rows inserted between pages: newer ones (above the cursor) never show up, while
    ones inserted into the part not read yet show up exactly once, ties included."""
    original = await _seed(uow_factory, 47)
    seen: Counter[str] = Counter()
    newer: list[str] = []
    unread: list[str] = []
    batches = 0

    async def insert_rows() -> None:
        nonlocal batches
        batches += 1
        async with uow_factory() as uow:
            top = b.payment(None, account_id=ACCOUNT, create_time=utcnow())
            await uow.payments.add(top)
            newer.append(top.id)
            # Older than every seeded row: always in the part still to be read.
            for offset in (batches, batches):  # two rows share a create_time
                row = b.payment(
                    None, account_id=ACCOUNT, create_time=b.T0 - timedelta(seconds=offset)
                )
                await uow.payments.add(row)
                unread.append(row.id)
            await uow.commit()

    token, pages = "", 0
    while True:
        async with uow_factory(read_only=True) as uow:
            page = await uow.payments.list_for_account(ACCOUNT, page=PageRequest(10, token))
        await insert_rows()
        pages += 1
        seen.update(p.id for p in page.items)
        assert [(p.create_time, p.id) for p in page.items] == sorted(
            ((p.create_time, p.id) for p in page.items), reverse=True
        )
        token = page.next_page_token
        if not token:
            break
    assert all(count == 1 for count in seen.values())
    assert set(original) <= set(seen)
    # Every row inserted below the cursor was read, except those of the last batch (added after it).
    assert set(unread[:-2]) <= set(seen)
    assert not set(newer) & set(seen)
    assert pages >= 5


async def test_filters_and_ranges(uow_factory: SqlUnitOfWorkFactory) -> None:
    ids = await _seed(uow_factory, 10)
    async with uow_factory() as uow:
        succeeded = b.payment(None, account_id=ACCOUNT, state=PaymentState.SUCCEEDED)
        await uow.payments.add(succeeded)
        await uow.payments.add(b.payment(None, account_id="acct_other"))
        await uow.commit()
    async with uow_factory() as uow:
        only = await uow.payments.list_for_account(
            ACCOUNT, page=PageRequest(), states=[PaymentState.SUCCEEDED]
        )
        assert [p.id for p in only.items] == [succeeded.id]
        ranged = await uow.payments.list_for_account(
            ACCOUNT,
            page=PageRequest(),
            states=[PaymentState.REQUIRES_CAPTURE],
            created_after=b.T0 + timedelta(seconds=1),
            created_before=b.T0 + timedelta(seconds=3),
        )
        assert {p.id for p in ranged.items} == set(ids[2:6])
        assert ranged.next_page_token == ""


async def test_token_reused_with_other_filters_is_refused(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    await _seed(uow_factory, 5)
    async with uow_factory() as uow:
        first = await uow.payments.list_for_account(ACCOUNT, page=PageRequest(2))
        assert first.next_page_token
        with pytest.raises(InvalidArgument) as info:
            await uow.payments.list_for_account(
                ACCOUNT, page=PageRequest(2, first.next_page_token), states=[PaymentState.FAILED]
            )
        assert info.value.violations[0].field == "page_token"
        with pytest.raises(InvalidArgument):
            await uow.refunds.list_for_account(ACCOUNT, page=PageRequest(2, first.next_page_token))
