"""What the list path reads: every field as a get reads it (but the secrets a list's
answer does not show), and deep pages through the statements it reuses per shape."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from payment_service.adapters.db.repositories._base import _STATEMENTS
from payment_service.adapters.db.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from payment_service.app.ports.list_filters import PaymentMethodFilter
from payment_service.domain.entities import Payment
from payment_service.domain.pagination import PageRequest
from payment_service.domain.states import PaymentState

from . import builders as b

_WITHHELD = ("client_secret", "next_action_url")


async def test_a_listed_payment_is_the_stored_one_but_for_unshown_secrets(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """Every field comes back as ``get`` reads it; the client secret and the 3-D Secure
    URL only on the payment awaiting the customer's action (the only one whose answer
    shows them)."""
    waiting = b.payment(None, account_id="acct_l", state=PaymentState.REQUIRES_ACTION)
    captured = b.payment(
        None, account_id="acct_l", create_time=b.T0 + timedelta(seconds=1), dispute_id="dsp_1"
    )
    async with uow_factory() as uow:
        await uow.payments.add(waiting)
        await uow.payments.add(captured)
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        listed = {
            p.id: p
            for p in (await uow.payments.list_for_account("acct_l", page=PageRequest())).items
        }
        stored = {p.id: await uow.payments.get(p.id) for p in listed.values()}
    assert listed[waiting.id] == stored[waiting.id] == waiting
    assert listed[waiting.id].client_secret == "pi_secret_x"
    assert listed[waiting.id].next_action_url == "https://3ds.example"
    unshown = dataclasses.replace(captured, client_secret=None, next_action_url=None)
    assert listed[captured.id] == unshown
    assert stored[captured.id] == captured
    assert isinstance(listed[captured.id].state, PaymentState)
    assert listed[captured.id].metadata == {"order": "42", "ünï": "cödé"}


def _expected(rows: list[Payment], **query: object) -> list[str]:
    states = query.get("states") or ()
    after, before = query.get("created_after"), query.get("created_before")
    kept = [
        p
        for p in rows
        if p.account_id == query["account"]
        and (not states or p.state in states)  # type: ignore[operator]
        and (after is None or p.create_time >= after)  # type: ignore[operator]
        and (before is None or p.create_time < before)  # type: ignore[operator]
    ]
    return [p.id for p in sorted(kept, key=lambda p: (p.create_time, p.id), reverse=True)]


async def test_deep_pages_of_every_filter_shape(uow_factory: SqlUnitOfWorkFactory) -> None:
    """Two accounts, every combination of filters, walked to the end in pages of 7: each
    list is exactly the filtered rows newest first (one statement per shape, reused with
    the values of each call and of each page's token)."""
    states = [PaymentState.SUCCEEDED, PaymentState.CANCELED, PaymentState.REQUIRES_CAPTURE]
    rows = [
        b.payment(
            None,
            account_id=f"acct_{n % 2}",
            state=states[n % 3],
            create_time=b.T0 + timedelta(seconds=n // 4),  # ties: the id decides
        )
        for n in range(120)
    ]
    async with uow_factory() as uow:
        for row in rows:
            await uow.payments.add(row)
        await uow.commit()
    queries = [
        {},
        {"states": frozenset({PaymentState.SUCCEEDED})},
        {"states": frozenset({PaymentState.SUCCEEDED, PaymentState.CANCELED})},
        {"created_after": b.T0 + timedelta(seconds=5)},
        {"created_before": b.T0 + timedelta(seconds=20)},
        {
            "states": frozenset({PaymentState.CANCELED}),
            "created_after": b.T0 + timedelta(seconds=3),
            "created_before": b.T0 + timedelta(seconds=25),
        },
    ]
    for account in ("acct_0", "acct_1"):
        for query in queries:
            seen: list[str] = []
            token, pages = "", 0
            while True:
                async with uow_factory(read_only=True) as uow:
                    page = await uow.payments.list_for_account(
                        account,
                        page=PageRequest(7, token),
                        **query,  # type: ignore[arg-type]
                    )
                seen.extend(p.id for p in page.items)
                pages += 1
                token = page.next_page_token
                if not token:
                    break
            expected = _expected(rows, account=account, **query)
            assert seen == expected, (account, query)
            assert pages == max(1, -(-len(expected) // 7))  # no empty page at the end


async def test_owned_pages_with_and_without_an_owner(uow_factory: SqlUnitOfWorkFactory) -> None:
    """Payment methods of an account, of one of its customers: one statement each, and a
    token of one is refused by the other."""
    async with uow_factory() as uow:
        first = b.customer("acct_pm")
        await uow.customers.add(first)
        methods = [b.payment_method(first) for _ in range(5)]
        for n, method in enumerate(methods):
            method.create_time = b.T0 + timedelta(seconds=n)
            await uow.payment_methods.add(method)
        await uow.commit()
    newest_first = [m.id for m in reversed(methods)]
    async with uow_factory(read_only=True) as uow:
        of_first = PaymentMethodFilter(account_id="acct_pm", customer_id=first.id)
        everyone = await uow.payment_methods.list_for_account(
            PaymentMethodFilter(account_id="acct_pm"), page=PageRequest(3)
        )
        theirs = await uow.payment_methods.list_for_account(of_first, page=PageRequest(3))
        rest = await uow.payment_methods.list_for_account(
            of_first, page=PageRequest(3, theirs.next_page_token)
        )
        nobody = await uow.payment_methods.list_for_account(
            PaymentMethodFilter(account_id="acct_pm", customer_id="cus_none"), page=PageRequest(3)
        )
    assert [m.id for m in everyone.items] == newest_first[:3]
    assert [m.id for m in theirs.items + rest.items] == newest_first
    assert rest.next_page_token == ""
    assert nobody.items == []
    assert everyone.items[0] == methods[-1]


async def test_one_statement_per_shape_whatever_the_values(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """Other accounts, states and times reuse the statement built for the shape."""
    async with uow_factory(read_only=True) as uow:
        for account in ("acct_a", "acct_b"):
            await uow.payments.list_for_account(account, page=PageRequest())
        built = _keyset_statements()
        for account, state in (("acct_c", PaymentState.FAILED), ("acct_d", PaymentState.SUCCEEDED)):
            await uow.payments.list_for_account(account, page=PageRequest(), states=[state])
            await uow.payments.list_for_account(account, page=PageRequest(3))
        assert _keyset_statements() <= built + 1


def _keyset_statements() -> int:
    return sum(1 for key in _STATEMENTS if key[0] == "keyset")


async def test_a_list_first_in_its_unit_of_work_sends_no_begin(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """On PostgreSQL a list that is its unit of work's first statement runs alone in
    autocommit (no BEGIN, nothing for the rollback to end); a later statement of the
    same unit of work begins its transaction as before."""
    stored = b.payment(None, account_id="acct_ac")
    async with uow_factory() as uow:
        await uow.payments.add(stored)
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        listed = await uow.payments.list_for_account("acct_ac", page=PageRequest())
        status = await _transaction_status(uow)
        assert await uow.payments.get(stored.id) == stored
        later = await _transaction_status(uow)
    assert [p.id for p in listed.items] == [stored.id]
    if uow_factory.engine.dialect.name == "postgresql":
        assert (status, later) == ("IDLE", "INTRANS")


async def test_a_list_after_writes_reads_its_own_transaction(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """A list after the unit of work wrote sees its uncommitted rows (it runs in the
    transaction, not beside it); once rolled back they are gone."""
    async with uow_factory() as uow:
        added = b.payment(None, account_id="acct_own")
        await uow.payments.add(added)
        inside = await uow.payments.list_for_account("acct_own", page=PageRequest())
        await uow.rollback()
    async with uow_factory(read_only=True) as uow:
        after = await uow.payments.list_for_account("acct_own", page=PageRequest())
    assert [p.id for p in inside.items] == [added.id]
    assert after.items == []


async def _transaction_status(uow: SqlUnitOfWork) -> str:
    driver = (await uow.connection.get_raw_connection()).driver_connection
    info = getattr(driver, "info", None)
    return "n/a" if info is None else str(info.transaction_status.name)
