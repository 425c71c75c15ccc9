"""The real server: localstripe delivers signed events to the sidecar, payments follow them.

Runs on every database backend (the server process uses the test session's database).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import grpc.aio
import pytest
import pytest_asyncio
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway, StripeGatewayConfig
from payment_service.domain.states import PaymentState, WebhookEventState
from tests.integration.webhooks.support import SECRET, event, signed, stored_events
from tests.support.localstripe import LocalStripe
from tests.support.server import REPO_ROOT, ServerProcess, bearer, make_token, server_env
from tests.support.webhooks import wait_settled

WEBHOOK_PATH = "/stripe/webhooks"


def webhook_server_env(
    database_url: str, localstripe: LocalStripe, **overrides: str
) -> dict[str, str]:
    settings = {
        "database_url": database_url,
        "stripe_api_key": localstripe.api_key,
        "stripe_api_base": localstripe.base_url,
        "stripe_timeout_s": "5",
        "stripe_max_network_retries": "0",
        "stripe_webhook_secrets": json.dumps([SECRET]),
        "payment_refresh_after_s": "3600",  # only webhooks move payments in these tests
        "reconcile_interval_s": "0",
        "webhook_retry_poll_s": "0.2",
        "webhook_retry_base_s": "0.2",
    }
    settings.update(overrides)
    return server_env(**settings)


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "payment_service.cli", *args],
        cwd=REPO_ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")},
            **env,
        },
        capture_output=True,
        text=True,
        timeout=timeout,
    )


async def wait_for(check: Any, within_s: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def stored_event_for(
    uow_factory: SqlUnitOfWorkFactory, event_type: str, object_id: str
) -> Any:
    for record in await stored_events(uow_factory):
        if (
            record.type == event_type
            and json.loads(record.payload)["data"]["object"].get("id") == object_id
        ):
            return record
    return None


@pytest.fixture
def server(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> Iterator[ServerProcess]:
    with ServerProcess.start(webhook_server_env(database_url, localstripe)) as process:
        yield process


@pytest_asyncio.fixture
async def registered(server: ServerProcess, localstripe: LocalStripe) -> AsyncIterator[str]:
    webhook_id = f"e2e-{secrets.token_hex(4)}"
    url = server.http_url + WEBHOOK_PATH
    await localstripe.register_webhook(webhook_id, url, SECRET)
    yield url
    await localstripe.register_webhook(webhook_id, url, SECRET, events=["test.never"])


@pytest_asyncio.fixture
async def stub(server: ServerProcess) -> AsyncIterator[payment_service_pb2_grpc.PaymentServiceStub]:
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        yield payment_service_pb2_grpc.PaymentServiceStub(channel)


def _auth() -> tuple[tuple[str, str], ...]:
    return bearer(make_token())


async def _create(stub: Any, pm: str, *, confirm: bool) -> pb.Payment:
    response = await stub.CreatePayment(
        pb.CreatePaymentRequest(
            request_id=f"req-{uuid.uuid4()}",
            account_id=f"acct_{uuid.uuid4().hex[:12]}",
            amount=1050,
            currency_code="usd",
            stripe_payment_method_id=pm,
            confirm=confirm,
        ),
        metadata=_auth(),
        timeout=20,
    )
    return response.payment


async def test_create_and_confirm_through_the_api_brings_payment_intent_succeeded_in(
    registered: str, stub: Any, uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> None:
    pm = await localstripe.create_card_payment_method()
    created = await _create(stub, pm, confirm=False)
    confirmed = await stub.ConfirmPayment(
        pb.ConfirmPaymentRequest(request_id=f"req-{uuid.uuid4()}", id=created.id),
        metadata=_auth(),
        timeout=20,
    )
    assert confirmed.payment.state == pb.PAYMENT_STATE_SUCCEEDED
    pi_id = confirmed.payment.stripe_payment_intent_id

    async def delivered() -> Any:
        return await stored_event_for(uow_factory, "payment_intent.succeeded", pi_id)

    record = await wait_for(delivered, what="payment_intent.succeeded delivery")
    # Stored when answered; the server's appliers apply it after.
    record = await wait_settled(uow_factory, record.stripe_event_id)
    assert record.state in (WebhookEventState.PROCESSED, WebhookEventState.IGNORED)
    async with uow_factory(read_only=True) as uow:
        stored = await uow.payments.get(created.id)
        audit = await uow.audit.list_for_object("payment_intent", pi_id)
    assert stored.state is PaymentState.SUCCEEDED
    assert "webhook.payment_intent.succeeded" in {e.action for e in audit if e.actor == "stripe"}


async def test_payment_confirmed_at_stripe_follows_the_webhook(
    registered: str, stub: Any, uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> None:
    pm = await localstripe.create_card_payment_method()
    created = await _create(stub, pm, confirm=False)
    # Read once so the payment sits in the cache; the webhook must drop that entry.
    got = await stub.GetPayment(pb.GetPaymentRequest(id=created.id), metadata=_auth(), timeout=10)
    assert got.payment.state == pb.PAYMENT_STATE_REQUIRES_CONFIRMATION
    gateway = StripeGateway(
        StripeGatewayConfig(api_key=localstripe.api_key, api_base=localstripe.base_url)
    )
    try:  # the customer confirms in the browser, not through us
        await gateway.confirm_payment_intent(
            created.stripe_payment_intent_id,
            idempotency_key=f"{created.id}:browser",
            payment_method=pm,
        )
    finally:
        await gateway.close()

    async def succeeded() -> bool:
        read = await stub.GetPayment(
            pb.GetPaymentRequest(id=created.id), metadata=_auth(), timeout=10
        )
        return bool(read.payment.state == pb.PAYMENT_STATE_SUCCEEDED)

    await wait_for(succeeded, what="the payment to follow the webhook")


async def test_signed_payloads_against_the_real_sidecar(
    server: ServerProcess,
    uow_factory: SqlUnitOfWorkFactory,
    database_url: str,
    localstripe: LocalStripe,
) -> None:
    url = server.http_url + WEBHOOK_PATH
    unknown = event("some.future.type", {"id": "obj_1", "object": "thing"})
    big = event("payment_intent.succeeded")
    big["data"]["object"]["description"] = "x" * (2 * 1024 * 1024)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            url, data=signed(unknown)[0], headers=signed(unknown)[1]
        ) as response:
            assert response.status == 200
        body, headers = signed(big)
        async with session.post(url, data=body, headers=headers) as response:
            assert response.status == 413
        body, headers = signed(unknown, secret="whsec_wrong")
        async with session.post(url, data=body, headers=headers) as response:
            assert response.status == 400
        async with session.post(url, data=b"x", headers={"Content-Type": "text/plain"}) as response:
            assert response.status == 415
    await wait_settled(uow_factory, unknown["id"])  # the server's appliers apply it after
    [record] = await stored_events(uow_factory)
    assert (record.stripe_event_id, record.state) == (unknown["id"], WebhookEventState.IGNORED)
    listed = run_cli(webhook_server_env(database_url, localstripe), "webhooks", "list")
    assert listed.returncode == 0, listed.stderr
    assert unknown["id"] in listed.stdout
    assert (
        run_cli(webhook_server_env(database_url, localstripe), "webhooks", "list", "--dead").stdout
        == ""
    )
