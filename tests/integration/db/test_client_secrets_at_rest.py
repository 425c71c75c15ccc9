"""Client secrets (a PaymentIntent's ``client_secret``, the 3-D Secure redirect URL that
carries one, a subscription's pending payment action) are ciphertext in the database and
read back in clear through the repositories."""

from __future__ import annotations

from sqlalchemy import Column

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.adapters.db.encrypted import EncryptedType
from payment_service.adapters.db.tables import metadata
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.app.customers.accounts import Customers
from payment_service.app.payments.rules import PaymentRules
from payment_service.app.payments.service import Payments
from payment_service.domain.entities import Payment
from payment_service.domain.states import PaymentState
from tests.unit.fakes.processor import FakeStripe
from tests.unit.use_cases.support import ORDERS, payment_request

from . import builders as b

# Columns that hold a client secret, or a value that carries one (Stripe's redirect URL
# for 3-D Secure has it as a query parameter; the pending action holds both).
CLIENT_SECRET_COLUMNS = (
    "transactions.client_secret",
    "transactions.next_action_url",
    "subscriptions.pending_action",
    "setup_intents.client_secret",
    "setup_intents.next_action_url",
)


def payments_over(uow_factory: SqlUnitOfWorkFactory, stripe: FakeStripe) -> Payments:
    """CreatePayment as production wires it, over the real repositories and a fake Stripe."""
    rules = PaymentRules(
        currencies=frozenset({"usd"}), refresh_after_s=60.0, stripe_lease_s=5.0, cache_ttl_s=60.0
    )
    customers = Customers(uow_factory, stripe)
    return Payments(uow_factory, stripe, MemoryCache(), customers, rules)


async def raw_value(uow_factory: SqlUnitOfWorkFactory, column: str, row_id: str) -> str:
    """What the database holds, read without the column's type."""
    table, _, name = column.partition(".")
    async with uow_factory(read_only=True) as uow:
        result = await uow.connection.exec_driver_sql(
            f"SELECT {name} FROM {table} WHERE id = '{row_id}'"
        )
        value = result.scalar_one()
    assert isinstance(value, str)
    return value


def test_every_column_named_secret_or_carrying_one_is_encrypted() -> None:
    columns: list[Column[object]] = [c for t in metadata.tables.values() for c in t.columns]
    named = {f"{c.table.name}.{c.name}" for c in columns if "secret" in c.name}
    assert named <= set(CLIENT_SECRET_COLUMNS)
    for column in columns:
        if f"{column.table.name}.{column.name}" in CLIENT_SECRET_COLUMNS:
            assert isinstance(column.type, EncryptedType), column


async def test_create_payment_stores_the_client_secret_encrypted(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    stripe = FakeStripe()
    created = await payments_over(uow_factory, stripe).create(
        ORDERS, payment_request("req-secret", confirm=False)
    )
    secret = stripe.payment_intents[created.stripe_payment_intent_id or ""].client_secret
    assert secret is not None
    assert created.client_secret == secret

    stored = await raw_value(uow_factory, "transactions.client_secret", created.id)
    assert stored.startswith("pii1.test.")
    assert secret not in stored
    assert "_secret_" not in stored

    async with uow_factory(read_only=True) as uow:
        read = await uow.payments.get(created.id)
    assert read is not None
    assert (read.client_secret, read.state) == (secret, PaymentState.REQUIRES_CONFIRMATION)


async def test_the_redirect_url_and_a_pending_action_are_encrypted(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    customer = b.customer()
    price = b.price()
    payment = b.payment(customer, next_action_url="https://3ds.example/?client_secret=pi_s")
    subscription = b.subscription(customer, price)
    pending_free = b.subscription(customer, price, pending_action=None)
    async with uow_factory() as uow:
        await uow.customers.add(customer)
        await uow.prices.add(price)
        await uow.payments.add(payment)
        await uow.subscriptions.add(subscription)
        await uow.subscriptions.add(pending_free)
        await uow.commit()

    url = await raw_value(uow_factory, "transactions.next_action_url", payment.id)
    action = await raw_value(uow_factory, "subscriptions.pending_action", subscription.id)
    for value in (url, action):
        assert value.startswith("pii1.test.")
        assert "secret" not in value
        assert "3ds.example" not in value
    async with uow_factory(read_only=True) as uow:
        nothing = await uow.connection.exec_driver_sql(
            f"SELECT pending_action FROM subscriptions WHERE id = '{pending_free.id}'"
        )
        assert nothing.scalar_one() is None
        read_payment = await uow.payments.get(payment.id)
        read_subscription = await uow.subscriptions.get(subscription.id)
        read_free = await uow.subscriptions.get(pending_free.id)
    assert isinstance(read_payment, Payment)
    assert read_payment.next_action_url == "https://3ds.example/?client_secret=pi_s"
    assert read_payment.client_secret == "pi_secret_x"
    assert read_subscription == subscription
    assert read_free is not None
    assert read_free.pending_action is None


async def test_an_updated_pending_action_is_encrypted_again(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    customer = b.customer()
    price = b.price()
    subscription = b.subscription(customer, price, pending_action=None)
    async with uow_factory() as uow:
        await uow.customers.add(customer)
        await uow.prices.add(price)
        await uow.subscriptions.add(subscription)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.subscriptions.get_for_update(subscription.id)
        assert found is not None
        found.pending_action = b.subscription(customer, price).pending_action
        await uow.subscriptions.update(found)
        await uow.commit()
    stored = await raw_value(uow_factory, "subscriptions.pending_action", subscription.id)
    assert stored.startswith("pii1.test.")
    assert "pi_secret_y" not in stored
    async with uow_factory(read_only=True) as uow:
        read = await uow.subscriptions.get(subscription.id)
    assert read is not None
    assert read.pending_action is not None
    assert read.pending_action.client_secret == "pi_secret_y"
