"""docs/metrics.md is the catalogue: a running service exposes exactly the metrics it lists,
with the labels it lists, and traffic feeds them.

The whole service runs in process (real gRPC server and HTTP sidecar, SQLite, the
in-memory cache, localstripe as Stripe); the test makes a payment, reads it back, posts
a signed webhook, then scrapes ``/metrics`` the way Prometheus does.
"""

from __future__ import annotations

import asyncio
import re
import uuid

import aiohttp
from payments.v1 import payment_service_pb2 as pb
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.integration.webhooks.support import SECRET, event, signed
from tests.support.localstripe import LocalStripe
from tests.support.metrics_catalogue import documented_metrics
from tests.support.outage_proxy import OutageProxy
from tests.support.server import new_migrated_sqlite_url
from tests.support.stack import Stack, auth, stack_settings, start_stack

# What the traffic below must have fed (a sample above zero), beside being listed.
FED = (
    "grpc_server_handled_total",
    "grpc_server_handling_seconds",
    "stripe_requests_total",
    "stripe_request_duration_seconds",
    "stripe_webhook_deliveries_total",
    "stripe_webhook_events_total",
    "stripe_webhook_apply_lag_seconds",
    "cache_lookups_total",
    "db_pool_connections",
    "db_pool_max_connections",
    "dependency_up",
    "service_ready",
)
ROUTE_TEMPLATE = re.compile(r"^/v1(/[a-z_]+|/\{id\})*$")


async def _traffic(stack: Stack, localstripe: LocalStripe) -> None:
    created = await stack.payments.CreatePayment(
        pb.CreatePaymentRequest(
            request_id=f"req-{uuid.uuid4()}",
            account_id=f"acct_{uuid.uuid4().hex[:12]}",
            amount=1050,
            currency_code="usd",
            stripe_payment_method_id=await localstripe.create_card_payment_method(),
            confirm=True,
        ),
        metadata=auth(),
        timeout=20,
    )
    for _ in range(2):
        await stack.payments.GetPayment(
            pb.GetPaymentRequest(id=created.payment.id), metadata=auth(), timeout=10
        )
    body, headers = signed(event("balance.available", {"id": "bal_1", "object": "balance"}))
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{stack.http_url}/stripe/webhooks", data=body, headers=headers) as answer,
    ):
        assert answer.status == 200, await answer.text()
    # Stored when answered; the server's appliers apply (here: ignore) it just after.
    for _ in range(200):
        scraped = (await _scrape(stack)).splitlines()
        if any(line.startswith("stripe_webhook_events_total{") for line in scraped):
            break
        await asyncio.sleep(0.05)


async def _scrape(stack: Stack) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{stack.http_url}/metrics") as response,
    ):
        assert response.status == 200
        return await response.text()


def _labels(samples: list[Sample]) -> frozenset[str]:
    return frozenset(key for sample in samples for key in sample.labels if key != "le")


async def test_the_service_exposes_exactly_the_documented_metrics(
    localstripe: LocalStripe, outage_proxy: OutageProxy
) -> None:
    settings = stack_settings(
        new_migrated_sqlite_url(), outage_proxy.base_url, stripe_webhook_secrets=[SECRET]
    )
    stack = await start_stack(settings)
    try:
        await _traffic(stack, localstripe)
        text = await _scrape(stack)
    finally:
        await stack.stop()

    exposed = {
        family.name: family
        for family in text_string_to_metric_families(text)
        if not family.name.endswith("_created")  # prometheus_client's counter timestamps
    }
    documented = {metric.family: metric for metric in documented_metrics().values()}
    assert sorted(set(documented) - set(exposed)) == [], "documented but not exposed"
    assert sorted(set(exposed) - set(documented)) == [], "exposed but not in docs/metrics.md"
    for family, metric in documented.items():
        assert exposed[family].type == metric.type, metric.name
        samples = exposed[family].samples
        if samples:
            assert _labels(samples) == metric.labels, metric.name
    for name in FED:
        family = documented_metrics()[name].family
        assert any(s.value > 0 for s in exposed[family].samples), f"{name} was not fed"
    routes = {s.labels["route"] for s in exposed["stripe_requests"].samples}
    assert routes, "no Stripe request was measured"
    assert all(ROUTE_TEMPLATE.match(route) for route in routes), routes
    assert "/v1/payment_intents" in routes
