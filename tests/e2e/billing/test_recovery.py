"""Billing recovery against the real server process: a crash after Stripe created the
subscription is finished by the reconciler with exactly one Stripe subscription, and
``payment-service sync --account`` repairs what webhooks never said. Every backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import grpc.aio
import pytest
from payments.v1 import payment_service_pb2 as pay_pb
from payments.v1 import payment_service_pb2_grpc, subscription_service_pb2_grpc
from payments.v1 import subscription_service_pb2 as pb

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import Subscription
from payment_service.domain.states import SubscriptionState
from tests.e2e.test_webhooks_delivery import run_cli, wait_for, webhook_server_env
from tests.support.audit import audited
from tests.support.localstripe import LocalStripe
from tests.support.server import ServerProcess, bearer, make_token

FAILPOINTS = "PAYMENT_TEST_FAILPOINTS"
FAST_LEASE = {"stripe_timeout_s": "1", "stripe_max_network_retries": "0"}
# An operator's pass reads Stripe's whole event history (the suite's shared localstripe
# holds every test's events): it gets the normal timeout, only the crashing server's
# lease needs the short one.
PATIENT_PASS = {"PAYMENT_STRIPE_TIMEOUT_S": "20"}


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    """A localstripe of this module's own: the reconciler's catch-up reads Stripe's whole
    event history, and the suite's shared one grows with every test (under load, past
    any sensible timeout)."""
    server = LocalStripe.start()
    try:
        yield server
    finally:
        server.stop()


SCOPES = "payments:read payments:write subscriptions:read subscriptions:write"


def _auth() -> tuple[tuple[str, str], ...]:
    return bearer(make_token(SCOPES))


async def _subscribe(target: str, localstripe: LocalStripe, account_id: str) -> pb.Subscription:
    made = await localstripe.request(
        "POST",
        "/v1/prices",
        {
            "currency": "usd",
            "unit_amount": "1200",
            "recurring[interval]": "month",
            "product_data[name]": f"Recovery {uuid.uuid4().hex[:6]}",
        },
    )
    pm = await localstripe.create_card_payment_method()
    async with grpc.aio.insecure_channel(target) as channel:
        payments = payment_service_pb2_grpc.PaymentServiceStub(channel)
        subscriptions = subscription_service_pb2_grpc.SubscriptionServiceStub(channel)
        await payments.AttachPaymentMethod(
            pay_pb.AttachPaymentMethodRequest(
                request_id=f"req-{uuid.uuid4()}",
                account_id=account_id,
                stripe_payment_method_id=pm,
                set_default=True,
            ),
            metadata=_auth(),
            timeout=20,
        )
        prices = await subscriptions.ListPrices(
            pb.ListPricesRequest(page_size=200), metadata=_auth(), timeout=20
        )
        price = next(p for p in prices.prices if p.stripe_price_id == made["id"])
        response = await subscriptions.CreateSubscription(
            pb.CreateSubscriptionRequest(
                request_id=f"req-{uuid.uuid4()}", account_id=account_id, price_id=price.id
            ),
            metadata=_auth(),
            timeout=20,
        )
        return response.subscription


async def _of_account(uow_factory: SqlUnitOfWorkFactory, account_id: str) -> list[Subscription]:
    from payment_service.domain.pagination import PageRequest

    async with uow_factory(read_only=True) as uow:
        page = await uow.subscriptions.list_for_account(account_id, page=PageRequest())
    return page.items


async def _at_stripe(localstripe: LocalStripe, subscription_id: str) -> list[dict[str, Any]]:
    found = await localstripe.list_objects("subscriptions")
    return [s for s in found if s["metadata"].get("subscription_id") == subscription_id]


async def test_crash_after_stripe_created_the_subscription_is_finished_once(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> None:
    env = webhook_server_env(database_url, localstripe, **FAST_LEASE)
    account_id = f"acct_{uuid.uuid4().hex[:12]}"
    with ServerProcess.start({**env, FAILPOINTS: "billing.create.after_stripe"}) as crashing:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await _subscribe(crashing.grpc_target, localstripe, account_id)
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
        assert crashing.wait(10) == -9
    [pending] = await _of_account(uow_factory, account_id)
    assert pending.stripe_subscription_id is None
    assert len(await _at_stripe(localstripe, pending.id)) == 1

    async def lease_over() -> bool:
        [row] = await _of_account(uow_factory, account_id)
        return row.lease_until is None or row.lease_until <= utcnow()

    await wait_for(lease_over, within_s=15, what="the create lease to run out")
    result = run_cli({**env, **PATIENT_PASS}, "reconcile")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "finish_pending_subscriptions: repaired=1" in result.stdout, result.stdout
    [finished] = await _of_account(uow_factory, account_id)
    assert finished.state is SubscriptionState.ACTIVE
    assert finished.stripe_subscription_id is not None
    assert len(await _at_stripe(localstripe, pending.id)) == 1
    repaired = await audited(
        uow_factory, ("subscription", pending.id), via="reconciler.finish_pending_subscriptions"
    )
    assert repaired, "the reconciler's repair wrote no audit row"
    again = run_cli({**env, **PATIENT_PASS}, "reconcile")
    assert "finish_pending_subscriptions: repaired=0" in again.stdout, again.stdout
    assert len(await _at_stripe(localstripe, pending.id)) == 1


async def test_sync_repairs_what_no_webhook_said(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> None:
    env = webhook_server_env(database_url, localstripe)
    account_id = f"acct_{uuid.uuid4().hex[:12]}"
    with ServerProcess.start(env) as server:
        subscription = await _subscribe(server.grpc_target, localstripe, account_id)
    assert subscription.state == pb.SUBSCRIPTION_STATE_ACTIVE
    # Canceled at Stripe (the dashboard, say); no webhook reaches us.
    await localstripe.request("DELETE", f"/v1/subscriptions/{subscription.stripe_subscription_id}")
    [before] = await _of_account(uow_factory, account_id)
    assert before.state is SubscriptionState.ACTIVE

    result = run_cli(env, "sync", "--account", account_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"account {account_id}: subscriptions=1" in result.stdout
    [after] = await _of_account(uow_factory, account_id)
    assert after.state is SubscriptionState.CANCELED
    [row] = await audited(uow_factory, ("subscription", after.id), via="cli.sync")
    assert row.action == "subscriptions.refresh"
    assert row.actor.startswith("operator:")
    unknown = run_cli(env, "sync", "--account", "acct_nobody_here")
    assert unknown.returncode == 1
