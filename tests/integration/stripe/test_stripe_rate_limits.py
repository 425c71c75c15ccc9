"""Stripe's 429 and our own budget below it, through the real gateway and localstripe.

A small HTTP proxy stands in front of localstripe and answers 429 (with Retry-After) to
the first requests it is told to; stripe-python itself does not retry those."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from payment_service.adapters.ratelimit.local import LocalRateLimiter
from payment_service.adapters.stripe import StripeGateway, StripeGatewayConfig
from payment_service.adapters.stripe.outbound import (
    REASON_RATE_LIMITED,
    OutboundLimiter,
    OutboundLimits,
)
from payment_service.app.common.request_context import deadline_scope
from payment_service.app.ports.processor import NewCustomer, idempotency_key
from payment_service.app.ports.rate_limit import Limit
from payment_service.domain.errors import Unavailable
from tests.integration.stripe.intents import card_payment
from tests.support.localstripe import LocalStripe


@dataclass
class LimitingProxy:
    target: str
    refuse_next: int = 0
    retry_after: str = "0.2"
    refused: int = 0
    forwarded: int = 0
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        if request.method == "POST" and self.refuse_next > 0:
            self.refuse_next -= 1
            self.refused += 1
            body = {"error": {"type": "invalid_request_error", "message": "Too many requests"}}
            return web.json_response(body, status=429, headers={"Retry-After": self.retry_after})
        self.forwarded += 1
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                self.target + request.path_qs,
                data=await request.read(),
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            ) as answer,
        ):
            return web.Response(
                status=answer.status, body=await answer.read(), content_type="application/json"
            )


@pytest_asyncio.fixture
async def proxy(localstripe: LocalStripe) -> AsyncIterator[LimitingProxy]:
    limiting = LimitingProxy(localstripe.base_url.rstrip("/"))
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", limiting.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    limiting.url = f"http://127.0.0.1:{port}"
    try:
        yield limiting
    finally:
        await runner.cleanup()


def _gateway(
    localstripe: LocalStripe, base: str, outbound: OutboundLimiter | None = None
) -> StripeGateway:
    return StripeGateway(
        StripeGatewayConfig(
            api_key=localstripe.api_key,
            api_base=base,
            max_network_retries=0,
            localstripe_compat=True,
            outbound=outbound,
        )
    )


async def _create(gateway: StripeGateway, localstripe: LocalStripe, pay: str) -> str:
    customer = await gateway.create_customer(
        NewCustomer(account_id="acct_rl"), idempotency_key=idempotency_key(f"cus_{pay}", "create")
    )
    pm = await localstripe.create_card_payment_method()
    intent = await gateway.create_payment_intent(
        card_payment(pay, 1000, "usd", customer.stripe_id, pm),
        idempotency_key=idempotency_key(pay, "create"),
    )
    return intent.stripe_id


async def test_a_429_is_waited_out_and_the_call_made_once(
    proxy: LimitingProxy, localstripe: LocalStripe
) -> None:
    gateway = _gateway(localstripe, proxy.url)
    pay = f"pay_{uuid.uuid4().hex[:16]}"
    try:
        proxy.refuse_next = 2  # the customer's create and then the PaymentIntent's
        with deadline_scope(10):
            await _create(gateway, localstripe, pay)
    finally:
        await gateway.close()

    assert proxy.refused == 2
    assert await localstripe.count_payment_intents(metadata={"payment_id": pay}) == 1


async def test_a_429_past_the_deadline_is_unavailable_with_its_retry_after(
    proxy: LimitingProxy, localstripe: LocalStripe
) -> None:
    gateway = _gateway(localstripe, proxy.url)
    proxy.refuse_next, proxy.retry_after = 1, "5"
    started = time.monotonic()
    try:
        with deadline_scope(2), pytest.raises(Unavailable) as refused:
            await gateway.create_customer(
                NewCustomer(account_id="acct_rl"),
                idempotency_key=idempotency_key("cus_late", "create"),
            )
    finally:
        await gateway.close()

    assert refused.value.reason == REASON_RATE_LIMITED
    assert refused.value.retry_after_seconds == 5
    assert time.monotonic() - started < 1  # answered at once, not after waiting


async def test_our_budget_spaces_out_a_burst(localstripe: LocalStripe) -> None:
    limits = OutboundLimits(
        account=Limit("stripe", per_s=1000, burst=1000), endpoint=Limit("stripe_endpoint", 10, 2)
    )
    gateway = _gateway(
        localstripe, localstripe.base_url, OutboundLimiter(LocalRateLimiter(), limits)
    )
    started = time.monotonic()
    try:
        for n in range(5):
            await gateway.create_customer(
                NewCustomer(account_id=f"acct_burst{n}"),
                idempotency_key=idempotency_key(f"cus_burst_{uuid.uuid4().hex[:8]}", "create"),
            )
    finally:
        await gateway.close()

    assert time.monotonic() - started >= 0.25  # 2 at once, then one per 100 ms
