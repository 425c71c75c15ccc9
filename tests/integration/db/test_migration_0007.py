"""Revision 0007 encrypts the client secrets stored in clear before it, in place, and
decrypts them again on downgrade."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from payment_service.adapters.db.engine import create_engine
from payment_service.adapters.db.schema_check import (
    current_revision,
    downgrade_to_base,
    upgrade_to_head,
)
from payment_service.adapters.db.uow import SqlUnitOfWork
from payment_service.domain.entities import PaymentAction
from payment_service.security import field_cipher as field_cipher_module
from payment_service.security.field_cipher import FieldCipher

T0 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
_ENV_KEY = FieldCipher.new_key_spec("kenv")
# More payments than the migration rewrites per batch, so it takes more than one.
PAYMENTS = 1_203
ACTION = {
    "invoice_id": "inv_m",
    "payment_id": "pay_m0",
    "client_secret": "pi_m_secret_sub",
    "next_action_type": "use_stripe_sdk",
    "next_action_url": None,
    "hosted_invoice_url": "https://inv.example/h",
    "error_code": None,
    "decline_code": None,
}

_CUSTOMER = (
    "INSERT INTO customers (id, account_id, stripe_customer_id, create_time, update_time) "
    "VALUES ('cust_m', 'acct_m', 'cus_m', :t, :t)"
)
_PAYMENT = (
    "INSERT INTO transactions (id, account_id, customer_id, caller, request_id, request_hash, "
    "amount, currency, amount_capturable, amount_received, amount_refunded, "
    "stripe_amount_refunded, state, capture_method, client_secret, next_action_type, "
    "next_action_url, metadata, confirm_on_create, create_time, update_time, version) "
    "VALUES (:id, 'acct_m', 'cust_m', 'svc', :id, 'h', 1050, 'usd', 0, 0, 0, 0, "
    "'requires_action', 'automatic', :secret, :action, :url, '{}', false, :t, :t, 1)"
)
_SUBSCRIPTION = (
    "INSERT INTO subscriptions (id, account_id, customer_id, caller, request_id, request_hash, "
    "stripe_customer_id, stripe_subscription_id, items, state, cancel_at_period_end, "
    "pending_action, metadata, create_time, update_time, version) "
    "VALUES (:id, 'acct_m', 'cust_m', 'svc', :id, 'h', 'cus_m', :id, '[]', 'incomplete', "
    "false, :action, '{}', :t, :t, 2)"
)


def _payment_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in range(PAYMENTS):
        url = f"https://hooks.example/3ds?client_secret=pi_m{n}_secret_s" if n % 2 else None
        rows.append(
            {
                "id": f"pay_m{n}",
                "secret": f"pi_m{n}_secret_s" if n % 3 else None,
                "action": "redirect_to_url" if url else None,
                "url": url,
                "t": T0,
            }
        )
    return rows


async def _raw(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in (await conn.execute(text(sql))).all()]
    finally:
        await engine.dispose()


async def _write_rows_of_0006(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(_CUSTOMER), {"t": T0})
            await conn.execute(text(_PAYMENT), _payment_rows())
            await conn.execute(
                text(_SUBSCRIPTION),
                [
                    {"id": "subn_a", "action": json.dumps(ACTION), "t": T0},
                    {"id": "subn_n", "action": "null", "t": T0},  # JSON null, as 0006 wrote None
                    {"id": "subn_s", "action": None, "t": T0},  # SQL NULL
                ],
            )
    finally:
        await engine.dispose()


async def _read_through_the_repositories(url: str) -> None:
    engine = create_engine(url)
    try:
        async with SqlUnitOfWork(engine, read_only=True) as uow:
            first = await uow.payments.get("pay_m1")
            last = await uow.payments.get(f"pay_m{PAYMENTS - 1}")
            none = await uow.payments.get("pay_m0")
            with_action = await uow.subscriptions.get("subn_a")
            json_null = await uow.subscriptions.get("subn_n")
    finally:
        await engine.dispose()
    assert first is not None
    assert (first.client_secret, first.next_action_url) == (
        "pi_m1_secret_s",
        "https://hooks.example/3ds?client_secret=pi_m1_secret_s",
    )
    assert last is not None
    assert last.client_secret == f"pi_m{PAYMENTS - 1}_secret_s"
    assert none is not None
    assert (none.client_secret, none.next_action_url) == (None, None)
    assert with_action is not None
    assert with_action.pending_action == PaymentAction(**ACTION)
    assert json_null is not None
    assert json_null.pending_action is None


async def test_0007_encrypts_stored_client_secrets_in_place_and_back(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    await upgrade_to_head(url, revision="0006")
    await _write_rows_of_0006(url)

    await upgrade_to_head(url, revision="0007")

    payments = await _raw(url, "SELECT id, client_secret, next_action_url FROM transactions")
    assert len(payments) == PAYMENTS
    stored = [value for row in payments for value in row[1:] if value is not None]
    assert len(stored) == sum(1 for n in range(PAYMENTS) if n % 3) + PAYMENTS // 2
    assert all(value.startswith("pii1.test.") for value in stored)
    assert not any("secret" in value for value in stored)
    actions = dict(await _raw(url, "SELECT id, pending_action FROM subscriptions"))
    assert actions["subn_a"].startswith("pii1.test.")
    assert "pi_m_secret_sub" not in actions["subn_a"]
    assert (actions["subn_n"], actions["subn_s"]) == (None, None)
    await upgrade_to_head(url)  # today's repositories read today's schema
    await _read_through_the_repositories(url)

    await downgrade_to_base(url, revision="0006")
    [(secret, redirect)] = await _raw(
        url, "SELECT client_secret, next_action_url FROM transactions WHERE id = 'pay_m1'"
    )
    assert (secret, redirect) == (
        "pi_m1_secret_s",
        "https://hooks.example/3ds?client_secret=pi_m1_secret_s",
    )
    [(action,)] = await _raw(url, "SELECT pending_action FROM subscriptions WHERE id = 'subn_a'")
    assert (json.loads(action) if isinstance(action, str) else action) == ACTION


async def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return await current_revision(engine)
    finally:
        await engine.dispose()


async def test_0007_takes_the_keys_from_the_environment_and_refuses_without_any(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``payment-service migrate`` installs no cipher: the keys come from the environment;
    without them a database holding secrets stays at 0006, one without needs no key."""
    url = empty_database_url
    monkeypatch.setattr(field_cipher_module, "_PROCESS_CIPHER", [])
    monkeypatch.delenv("PAYMENT_PII_ENCRYPTION_KEYS", raising=False)
    await upgrade_to_head(url, revision="0007")  # nothing to encrypt yet
    await downgrade_to_base(url, revision="0006")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(_CUSTOMER), {"t": T0})
            await conn.execute(text(_PAYMENT), _payment_rows()[:3])
    finally:
        await engine.dispose()

    with pytest.raises(RuntimeError, match="PAYMENT_PII_ENCRYPTION_KEYS"):
        await upgrade_to_head(url)
    assert await _revision(url) == "0006"
    [(secret,)] = await _raw(url, "SELECT client_secret FROM transactions WHERE id = 'pay_m1'")
    assert secret == "pi_m1_secret_s"

    monkeypatch.setenv("PAYMENT_PII_ENCRYPTION_KEYS", json.dumps([_ENV_KEY]))
    await upgrade_to_head(url)
    [(stored,)] = await _raw(url, "SELECT client_secret FROM transactions WHERE id = 'pay_m1'")
    assert FieldCipher.key_id_of(stored) == "kenv"
    decrypted = FieldCipher.from_specs([_ENV_KEY]).decrypt(
        stored, context="transactions.client_secret"
    )
    assert decrypted == "pi_m1_secret_s"
