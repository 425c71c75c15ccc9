"""Traces: the span tree of a CreatePayment (server span → database spans → Stripe client
spans) under the caller's ``traceparent``, a webhook delivery's spans, and the trace id in
log lines and audit rows. Spans go to OpenTelemetry's in-memory exporter (the SDK's own
test exporter: no collector runs here); everything else is real."""

from __future__ import annotations

import io
import json
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import aiohttp
import grpc
import pytest
import pytest_asyncio
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.api.http.webhooks import WEBHOOK_PATH
from payment_service.app.common.trace_links import links_to
from payment_service.bootstrap.services import Overrides
from payment_service.observability.logs import JsonFormatter
from tests.integration.webhooks.support import SECRET, event, signed
from tests.support.audit import audited
from tests.support.localstripe import LocalStripe
from tests.support.outage_proxy import OutageProxy
from tests.support.server import ServerProcess, server_env
from tests.support.stack import Stack, auth, stack_settings, start_stack

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


@pytest.fixture(scope="session")
def exporter() -> InMemorySpanExporter:
    """One provider for the session: the global one too, for the spans app code starts
    through the API (a webhook's application), which can be set once per process."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)
    memory.provider = provider  # type: ignore[attr-defined]
    return memory


@pytest_asyncio.fixture(loop_scope="session")
async def traced(
    database_url: str,
    uow_factory: SqlUnitOfWorkFactory,
    localstripe: LocalStripe,
    outage_proxy: OutageProxy,
    exporter: InMemorySpanExporter,
) -> AsyncIterator[Stack]:
    settings = stack_settings(
        database_url, outage_proxy.base_url, stripe_webhook_secrets=[SECRET], log_level="INFO"
    )
    provider = exporter.provider  # type: ignore[attr-defined]
    running = await start_stack(settings, Overrides(tracer_provider=provider))
    exporter.clear()
    try:
        yield running
    finally:
        await running.stop()


def _of_trace(spans: tuple[ReadableSpan, ...], trace_id: int) -> list[ReadableSpan]:
    return [s for s in spans if s.context is not None and s.context.trace_id == trace_id]


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("payment_service.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    yield stream
    access.removeHandler(handler)


async def test_create_payment_is_one_trace_under_the_callers_span(
    traced: Stack,
    localstripe: LocalStripe,
    exporter: InMemorySpanExporter,
    uow_factory: SqlUnitOfWorkFactory,
    log_lines: io.StringIO,
) -> None:
    pm = await localstripe.create_card_payment_method()
    metadata = (*auth(), ("traceparent", TRACEPARENT))
    created = await traced.payments.CreatePayment(
        pb.CreatePaymentRequest(
            request_id=f"req-{uuid.uuid4()}",
            account_id=f"acct_{uuid.uuid4().hex[:12]}",
            amount=1234,
            currency_code="usd",
            stripe_payment_method_id=pm,
            confirm=True,
        ),
        metadata=metadata,
        timeout=20,
    )
    assert created.payment.state == pb.PAYMENT_STATE_SUCCEEDED

    spans = _of_trace(exporter.get_finished_spans(), int(CALLER_TRACE, 16))
    [server] = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.name == "payments.v1.PaymentService/CreatePayment"
    assert server.parent is not None
    assert server.parent.span_id == int(CALLER_SPAN, 16)
    assert server.attributes is not None
    assert server.attributes["rpc.grpc.status_code"] == "OK"
    below = _children(spans, server)
    db = [s for s in below if s.attributes and "db.system" in s.attributes]
    stripe_calls = [s for s in below if s.name.startswith("Stripe ")]
    assert any(s.name.startswith("INSERT transactions") for s in db), [s.name for s in db]
    # Statements without their values (bound parameters: amounts, personal data).
    assert all("1234" not in str((s.attributes or {}).get("db.statement")) for s in db)
    names = {s.name for s in stripe_calls}
    assert "Stripe POST /v1/payment_intents" in names, names
    assert all("pi_" not in name and "cus_" not in name for name in names)  # route templates
    assert all(s.kind is SpanKind.CLIENT for s in stripe_calls)
    assert all(s.attributes and s.attributes.get("http.response.status_code") for s in stripe_calls)

    [access] = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert access["trace_id"] == CALLER_TRACE
    [row] = await audited(uow_factory, ("payment", created.payment.id), action="payments.create")
    assert row.trace_id == CALLER_TRACE
    # Kept with the payment, for the spans of work done for it later (the reconciler's).
    async with uow_factory(read_only=True) as uow:
        stored = await uow.payments.get(created.payment.id)
    assert stored is not None
    assert stored.trace_parent is not None
    assert stored.trace_parent.split("-")[1] == CALLER_TRACE
    assert links_to(stored.trace_parent)[0].context.trace_id == int(CALLER_TRACE, 16)


async def test_a_webhook_delivery_is_a_server_span_with_its_event(
    traced: Stack, exporter: InMemorySpanExporter, uow_factory: SqlUnitOfWorkFactory
) -> None:
    evt = event("customer.created", {"id": f"cus_{uuid.uuid4().hex[:14]}", "object": "customer"})
    body, headers = signed(evt)
    url = f"{traced.http_url}{WEBHOOK_PATH}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        assert response.status == 200, await response.text()

    spans = exporter.get_finished_spans()
    [delivery] = [s for s in spans if s.name == f"POST {WEBHOOK_PATH}"]
    assert delivery.kind is SpanKind.SERVER
    assert delivery.attributes is not None
    assert delivery.attributes["http.response.status_code"] == 200
    assert delivery.context is not None
    [applied] = [s for s in spans if s.name == "webhook customer.created"]
    assert applied.parent is not None
    assert applied.parent.span_id == delivery.context.span_id
    assert applied.attributes is not None
    assert applied.attributes["stripe.event_id"] == evt["id"]
    async with uow_factory(read_only=True) as uow:
        stored = await uow.webhook_events.find_by_stripe_event_id(str(evt["id"]))
    assert stored is not None
    assert stored.trace_parent is not None  # a retry's span links to this delivery
    assert stored.trace_parent.split("-")[2] == format(applied.context.span_id, "016x")


def test_an_exporter_that_is_away_neither_slows_nor_fails_calls() -> None:
    """A real process exporting over OTLP to a port nothing listens on: every call answers
    as quickly as without tracing, and the process still stops within its budget."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    env = server_env(
        tracing_exporter="otlp-grpc", tracing_endpoint=f"http://127.0.0.1:{closed_port}"
    )
    with ServerProcess.start(env) as server:
        channel = grpc.insecure_channel(server.grpc_target)
        stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
        slowest = 0.0
        for n in range(40):
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as missing:
                stub.GetPayment(pb.GetPaymentRequest(id=f"pay_{n:04d}"), metadata=auth(), timeout=5)
            slowest = max(slowest, time.monotonic() - started)
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        channel.close()
        assert slowest < 1.0, f"a call took {slowest:.2f}s with the exporter away"
        started = time.monotonic()
        assert server.stop() == 0
        assert time.monotonic() - started < 8
