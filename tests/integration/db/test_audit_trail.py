"""The audit trail: rows name the RPC that wrote them, `payment-service audit` filters
them as JSON lines, and on PostgreSQL no role can change or delete them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.app.common.audit import audit_entry
from payment_service.app.common.audit_context import RpcFacts, bind_rpc_facts, unbind_rpc_facts
from payment_service.app.ports.storage import AuditQuery
from payment_service.domain.clock import utcnow
from tests.e2e.test_webhooks_delivery import run_cli
from tests.support.server import TEST_PII_KEY


async def _write(
    uow_factory: SqlUnitOfWorkFactory,
    actor: str,
    subject: tuple[str, str],
    facts: RpcFacts | None = None,
) -> None:
    token = bind_rpc_facts(facts or RpcFacts())
    try:
        async with uow_factory() as uow:
            await uow.audit.add(audit_entry(actor, "payments.capture", subject))
            await uow.commit()
    finally:
        unbind_rpc_facts(token)


async def test_a_row_names_the_rpc_that_wrote_it(uow_factory: SqlUnitOfWorkFactory) -> None:
    facts = RpcFacts(
        account_id="acct_a",
        request_id="req-7",
        peer="ipv4:10.0.0.7:51234",
        certificate="CN=orders,O=example",
    )
    await _write(uow_factory, "svc-orders", ("payment", "pay_1"), facts)

    async with uow_factory(read_only=True) as uow:
        [row] = await uow.audit.list_for_object("payment", "pay_1")

    assert (row.account_id, row.request_id, row.peer, row.certificate) == (
        "acct_a",
        "req-7",
        "ipv4:10.0.0.7:51234",
        "CN=orders,O=example",
    )


async def test_search_filters_by_account_object_caller_and_time(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    start = utcnow() - timedelta(seconds=1)
    await _write(uow_factory, "svc-orders", ("payment", "pay_1"), RpcFacts(account_id="acct_a"))
    await _write(uow_factory, "svc-orders", ("payment", "pay_2"), RpcFacts(account_id="acct_b"))
    await _write(uow_factory, "svc-billing", ("payment", "pay_1"), RpcFacts(account_id="acct_a"))
    await _write(uow_factory, "stripe", ("payment", "pay_1"))

    async def ids(query: AuditQuery) -> list[tuple[str, str]]:
        async with uow_factory(read_only=True) as uow:
            return [(r.actor, r.object_id) for r in await uow.audit.search(query)]

    assert await ids(AuditQuery(account_id="acct_a")) == [
        ("svc-orders", "pay_1"),
        ("svc-billing", "pay_1"),
    ]
    assert await ids(AuditQuery(actor="svc-orders")) == [
        ("svc-orders", "pay_1"),
        ("svc-orders", "pay_2"),
    ]
    assert len(await ids(AuditQuery(object_type="payment", object_id="pay_1"))) == 3
    assert len(await ids(AuditQuery(since=start))) == 4
    assert await ids(AuditQuery(until=start)) == []
    assert len(await ids(AuditQuery(limit=2))) == 2


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET outcome = 'forged'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ],
)
async def test_no_role_can_change_or_delete_a_row_on_postgresql(
    db_backend: str, engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory, statement: str
) -> None:
    if db_backend != "postgresql":
        pytest.skip("the append-only guard is PostgreSQL's (SQLite is the development default)")
    await _write(uow_factory, "svc-orders", ("payment", "pay_1"))

    with pytest.raises(DBAPIError) as refused:
        async with engine.begin() as conn:
            await conn.execute(sa.text(statement))

    assert "append-only" in str(refused.value)
    async with uow_factory(read_only=True) as uow:
        [row] = await uow.audit.list_for_object("payment", "pay_1")
    assert row.outcome == "ok"


async def test_the_audit_command_prints_json_lines(
    database_url: str, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await _write(uow_factory, "svc-orders", ("payment", "pay_1"), RpcFacts(account_id="acct_a"))
    await _write(uow_factory, "svc-orders", ("payment", "pay_2"), RpcFacts(account_id="acct_b"))
    env = {
        "PAYMENT_DATABASE_URL": database_url,
        "PAYMENT_STRIPE_API_KEY": "sk_test_audit",
        "PAYMENT_PII_ENCRYPTION_KEYS": json.dumps([TEST_PII_KEY]),
    }

    result = run_cli(env, "audit", "--account", "acct_b", "--object", "payment:pay_2")

    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    row = json.loads(line)
    assert (row["caller"], row["object_id"], row["account_id"]) == ("svc-orders", "pay_2", "acct_b")
    refused = run_cli(env, "audit", "--object", "payment")
    assert refused.returncode == 2
    assert "--object takes TYPE:ID" in refused.stderr
