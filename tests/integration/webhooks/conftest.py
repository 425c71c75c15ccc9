"""The webhook pipeline over a real database (SQLite and PostgreSQL) and an in-process sidecar."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from prometheus_client import CollectorRegistry

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import mapping
from payment_service.adapters.stripe.webhook_signature import StripeSignatureVerifier
from payment_service.api.http.sidecar import HttpSidecar
from payment_service.api.http.webhooks import webhook_route
from payment_service.app.ports.events import EventHandler, EventOutcome
from payment_service.app.ports.storage import UnitOfWork
from payment_service.app.webhooks.policy import RetryPolicy
from payment_service.app.webhooks.service import Webhooks
from payment_service.bootstrap.services import build_services, event_registry
from payment_service.config import Settings
from payment_service.domain.errors import NotFound
from payment_service.domain.processor import RemoteCustomer, RemoteEvent, RemotePaymentMethod
from payment_service.observability.webhook_metrics import WebhookMetrics
from tests.integration.webhooks.support import OLD_SECRET, SECRET
from tests.support.localstripe import LocalStripe
from tests.support.webhooks import apply_one, settled_as


class RecordingCache(MemoryCache):
    def __init__(self) -> None:
        super().__init__()
        self.deleted: list[str] = []

    async def delete(self, *keys: str) -> None:
        self.deleted.extend(keys)
        await super().delete(*keys)


@dataclass
class StubProcessor:
    """What the re-reading handlers (payment_method.updated, customer.updated) ask Stripe."""

    payment_methods: dict[str, RemotePaymentMethod] = field(default_factory=dict)
    customers: dict[str, RemoteCustomer] = field(default_factory=dict)

    async def retrieve_payment_method(self, payment_method_id: str) -> RemotePaymentMethod:
        if payment_method_id not in self.payment_methods:
            raise NotFound("payment_method", payment_method_id)
        return self.payment_methods[payment_method_id]

    async def retrieve_customer(self, customer_id: str) -> RemoteCustomer:
        if customer_id not in self.customers:
            raise NotFound("customer", customer_id)
        return self.customers[customer_id]


@dataclass
class Pipeline:
    webhooks: Webhooks
    uow_factory: SqlUnitOfWorkFactory
    cache: RecordingCache
    metrics: CollectorRegistry
    processor: StubProcessor
    extra: dict[str, EventHandler]

    def count(self, event_type: str, outcome: str) -> float:
        value = self.metrics.get_sample_value(
            "stripe_webhook_events_total", {"type": event_type, "outcome": outcome}
        )
        return value or 0.0


TEST_TYPE = "test.flaky_thing.updated"


@pytest.fixture
def extra_handlers() -> dict[str, EventHandler]:
    """Tests put the handler of TEST_TYPE here (e.g. a flaky one), also after the build."""
    return {}


def _delegate(extra: dict[str, EventHandler]) -> EventHandler:
    async def handler(event: RemoteEvent, uow: UnitOfWork) -> EventOutcome:
        return await extra[TEST_TYPE](event, uow)

    return handler


@pytest_asyncio.fixture
async def pipeline(
    uow_factory: SqlUnitOfWorkFactory, extra_handlers: dict[str, EventHandler]
) -> Pipeline:
    processor = StubProcessor()
    cache = RecordingCache()
    registry = CollectorRegistry()
    events = event_registry(processor, {TEST_TYPE: _delegate(extra_handlers)})  # type: ignore[arg-type]
    webhooks = Webhooks(
        uow_factory,
        events,
        mapping,
        cache,
        WebhookMetrics(registry),
        RetryPolicy(max_attempts=3, base_delay_s=0.05, max_delay_s=0.2, lease_s=5.0),
    )
    return Pipeline(webhooks, uow_factory, cache, registry, processor, extra_handlers)


@dataclass
class Endpoint:
    url: str
    session: aiohttp.ClientSession
    uow_factory: SqlUnitOfWorkFactory
    webhooks: Webhooks

    async def post(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, Any]:
        async with self.session.post(self.url, data=body, headers=dict(headers)) as response:
            return response.status, await response.json(content_type=None)

    async def deliver(self, body: bytes, headers: Mapping[str, str]) -> str:
        """POST a delivery (answered 200 once stored) and wait until the applier attempted
        it: what ``settled`` says, or ``duplicate``."""
        status, answer = await self.post(body, headers)
        assert status == 200, answer
        if answer["result"] == "duplicate":
            return "duplicate"
        assert answer["result"] == "accepted", answer
        return await self.settled(json.loads(body)["id"])

    async def settled(self, stripe_event_id: str) -> str:
        """What an accepted event came to once applied (the test runs the applier):
        applied, ignored, quarantined, deferred or dead."""
        return await settled_as(
            self.uow_factory, stripe_event_id, apply=apply_one(self.webhooks, stripe_event_id)
        )


async def _serve(pipeline: Pipeline, secrets: list[str]) -> AsyncIterator[Endpoint]:
    verifier = StripeSignatureVerifier(secrets, tolerance_s=300)
    sidecar = HttpSidecar(
        host="127.0.0.1", port=0, routes=[webhook_route(pipeline.webhooks, verifier)]
    )
    await sidecar.start()
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{sidecar.port}/stripe/webhooks"
            yield Endpoint(url, session, pipeline.uow_factory, pipeline.webhooks)
    finally:
        await sidecar.stop()


@pytest_asyncio.fixture
async def endpoint(pipeline: Pipeline) -> AsyncIterator[Endpoint]:
    """The sidecar with two secrets configured (the current one and the one being rotated out)."""
    async for served in _serve(pipeline, [SECRET, OLD_SECRET]):
        yield served


@pytest_asyncio.fixture
async def unconfigured_endpoint(pipeline: Pipeline) -> AsyncIterator[Endpoint]:
    async for served in _serve(pipeline, []):
        yield served


@pytest_asyncio.fixture
async def production_endpoint(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> AsyncIterator[Endpoint]:
    """The sidecar serving the registry the service itself builds (the composition root:
    customer, payment, refund and billing handlers) over the real Stripe gateway (localstripe)."""
    settings = Settings(
        database_url=database_url,
        stripe_api_key=localstripe.api_key,
        stripe_api_base=localstripe.base_url,
        stripe_timeout_s=5.0,
        stripe_max_network_retries=0,
        stripe_webhook_secrets=[SECRET, OLD_SECRET],
    )
    services = build_services(settings)
    await services.start()
    sidecar = HttpSidecar(
        host="127.0.0.1", port=0, routes=[webhook_route(services.webhooks, services.verifier)]
    )
    await sidecar.start()
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{sidecar.port}/stripe/webhooks"
            yield Endpoint(url, session, uow_factory, services.webhooks)
    finally:
        await sidecar.stop()
        await services.stop()
