"""``payment-service rotate-keys``: every encrypted column (personal data and the client
secrets) rewritten under the active key, a batch at a time; old values are read with the
old key, which can be retired afterwards."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from payment_service.adapters.db.encrypted import EncryptedType
from payment_service.adapters.db.rekey import encrypted_columns
from payment_service.adapters.db.tables import metadata
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.cli import _parser
from payment_service.cli.rotation import rotate_keys_command
from payment_service.config import Settings, load_settings
from payment_service.domain.entities import (
    Customer,
    Payment,
    PaymentMethod,
    Subscription,
    WebhookEvent,
)
from payment_service.security.field_cipher import FieldCipher, field_cipher, use_field_cipher
from tests.support.server import TEST_PII_KEY

from . import builders as b

NEW_KEY = FieldCipher.new_key_spec("k2026")


def settings_with(monkeypatch: pytest.MonkeyPatch, database_url: str, *keys: str) -> Settings:
    """The settings the command loads (the environment wins over anything else)."""
    monkeypatch.setenv("PAYMENT_DATABASE_URL", database_url)
    monkeypatch.setenv("PAYMENT_PII_ENCRYPTION_KEYS", json.dumps(list(keys)))
    return load_settings()


@pytest.fixture
def restored_cipher() -> Iterator[None]:
    """The test's process cipher comes back after a test that installs another."""
    before = field_cipher()
    yield
    use_field_cipher(before)


@dataclass
class Stored:
    customer: Customer
    method: PaymentMethod
    payments: list[Payment]
    subscription: Subscription
    event: WebhookEvent


async def _store_one_of_each(uow_factory: SqlUnitOfWorkFactory) -> Stored:
    customer = b.customer()
    price = b.price()
    method = b.payment_method(customer)
    payments = [b.payment(customer) for _ in range(5)]
    subscription = b.subscription(customer, price)
    event = b.webhook_event(payload='{"object": {"client_secret": "pi_secret_w"}}')
    async with uow_factory() as uow:
        await uow.customers.add(customer)
        await uow.prices.add(price)
        await uow.payment_methods.add(method)
        for payment in payments:
            await uow.payments.add(payment)
        await uow.subscriptions.add(subscription)
        await uow.webhook_events.insert_if_new(event)
        await uow.commit()
    return Stored(customer, method, payments, subscription, event)


async def _key_ids(uow_factory: SqlUnitOfWorkFactory) -> dict[str, set[str | None]]:
    """Per encrypted column, the key ids its stored values name."""
    found: dict[str, set[str | None]] = {}
    async with uow_factory(read_only=True) as uow:
        for column in encrypted_columns(metadata):
            sql = f"SELECT {column.name} FROM {column.table} WHERE {column.name} IS NOT NULL"
            values = (await uow.connection.execute(text(sql))).scalars().all()
            found[column.qualified] = {FieldCipher.key_id_of(value) for value in values}
    return found


def test_the_command_is_on_the_console_script() -> None:
    args = _parser().parse_args(["rotate-keys", "--batch-size", "50"])
    assert (args.command, args.batch_size) == ("rotate-keys", 50)


def test_every_encrypted_column_is_rotated() -> None:
    names = {c.qualified for c in encrypted_columns(metadata)}
    assert {
        "transactions.client_secret",
        "transactions.next_action_url",
        "subscriptions.pending_action",
        "transactions.receipt_email",
        "customers.email",
        "webhook_events.payload",
    } <= names
    every = {
        f"{t.name}.{c.name}"
        for t in metadata.tables.values()
        for c in t.columns
        if isinstance(c.type, EncryptedType)
    }
    assert names == every


async def test_rotate_keys_rewrites_every_encrypted_value_under_the_active_key(
    uow_factory: SqlUnitOfWorkFactory,
    database_url: str,
    restored_cipher: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored = await _store_one_of_each(uow_factory)
    assert {frozenset(ids) for ids in (await _key_ids(uow_factory)).values() if ids} == {
        frozenset({"test"})
    }

    out = io.StringIO()
    code = await rotate_keys_command(
        settings_with(monkeypatch, database_url, TEST_PII_KEY, NEW_KEY), out, batch_size=2
    )

    assert code == 0, out.getvalue()
    assert "transactions.client_secret: rewritten=5 already_current=0" in out.getvalue()
    assert "subscriptions.pending_action: rewritten=1 already_current=0" in out.getvalue()
    use_field_cipher(FieldCipher.from_specs([NEW_KEY]))  # the old key is retired
    key_ids = await _key_ids(uow_factory)
    assert key_ids["transactions.client_secret"] == {"k2026"}
    assert key_ids["transactions.next_action_url"] == {"k2026"}
    assert key_ids["subscriptions.pending_action"] == {"k2026"}
    assert {frozenset(ids) for ids in key_ids.values() if ids} == {frozenset({"k2026"})}
    async with uow_factory(read_only=True) as uow:
        assert await uow.customers.get(stored.customer.id) == stored.customer
        assert await uow.payment_methods.get(stored.method.id) == stored.method
        for payment in stored.payments:
            assert await uow.payments.get(payment.id) == payment
        assert await uow.subscriptions.get(stored.subscription.id) == stored.subscription
        event = await uow.webhook_events.get(stored.event.id)
        assert event is not None
        assert event.payload == stored.event.payload

    again = io.StringIO()
    assert await rotate_keys_command(settings_with(monkeypatch, database_url, NEW_KEY), again) == 0
    assert "transactions.client_secret: rewritten=0 already_current=5" in again.getvalue()


async def test_rotate_keys_fails_on_a_value_under_a_key_it_does_not_have(
    uow_factory: SqlUnitOfWorkFactory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _store_one_of_each(uow_factory)
    out = io.StringIO()
    code = await rotate_keys_command(settings_with(monkeypatch, database_url, NEW_KEY), out)
    assert code == 1
    assert "unknown key 'test'" in out.getvalue()
    assert {frozenset(ids) for ids in (await _key_ids(uow_factory)).values() if ids} == {
        frozenset({"test"})
    }
