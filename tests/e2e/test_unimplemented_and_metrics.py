"""Every RPC of every service is implemented; /metrics counts calls by method and code; one
access log line per call."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import grpc
import grpc.aio
import pytest
from google.protobuf.descriptor import ServiceDescriptor
from payments.v1 import (
    invoice_service_pb2,
    invoice_service_pb2_grpc,
    payment_service_pb2,
    refund_service_pb2,
    subscription_service_pb2,
)

from tests.support.server import ServerProcess, bearer, make_token

VOID_INVOICE = "/payments.v1.InvoiceService/VoidInvoice"


async def _metrics(server: ServerProcess) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.http_url}/metrics") as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return await response.text()


async def _metrics_until(
    server: ServerProcess, name: str, method: str, code: str, expected: float
) -> float:
    """The sample once it reaches ``expected`` (the server records a call just after answering)."""
    value = 0.0
    for _ in range(40):
        value = _sample(await _metrics(server), name, method, code)
        if value >= expected:
            break
        await asyncio.sleep(0.05)
    return value


def _sample(text: str, name: str, method: str, code: str) -> float:
    pattern = rf'^{name}\{{code="{code}",method="{re.escape(method)}"\}} (\S+)$'
    match = re.search(pattern, text, flags=re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def _void_invoice(channel: grpc.aio.Channel, token: str) -> grpc.aio.AioRpcError:
    stub = invoice_service_pb2_grpc.InvoiceServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.VoidInvoice(
            invoice_service_pb2.VoidInvoiceRequest(request_id="req-void-1"),
            metadata=bearer(token),
            timeout=10,
        )
    return raised.value


@pytest.mark.parametrize(
    "service",
    [
        payment_service_pb2.DESCRIPTOR.services_by_name["PaymentService"],
        refund_service_pb2.DESCRIPTOR.services_by_name["RefundService"],
        subscription_service_pb2.DESCRIPTOR.services_by_name["SubscriptionService"],
        invoice_service_pb2.DESCRIPTOR.services_by_name["InvoiceService"],
    ],
    ids=lambda service: service.name,
)
async def test_no_rpc_is_unimplemented(
    channel: grpc.aio.Channel, service: ServiceDescriptor
) -> None:
    token = make_token(sub="implemented-test")
    codes: dict[str, grpc.StatusCode] = {}
    for method in service.methods:
        call = channel.unary_unary(f"/{service.full_name}/{method.name}")
        try:  # an empty request: mostly INVALID_ARGUMENT, ListPrices answers
            await call(b"", metadata=bearer(token), timeout=10)
        except grpc.aio.AioRpcError as error:
            codes[method.name] = error.code()
    assert grpc.StatusCode.UNIMPLEMENTED not in codes.values(), codes


async def test_a_call_is_counted_by_method_and_code(
    server: ServerProcess, channel: grpc.aio.Channel
) -> None:
    before = await _metrics(server)
    error = await _void_invoice(channel, make_token("invoices:write", sub="metrics-test"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    for name in ("grpc_server_handled_total", "grpc_server_handling_seconds_count"):
        expected = _sample(before, name, VOID_INVOICE, "INVALID_ARGUMENT") + 1
        after = await _metrics_until(server, name, VOID_INVOICE, "INVALID_ARGUMENT", expected)
        assert after == expected, name


async def test_denied_calls_are_counted_with_their_code(
    server: ServerProcess, channel: grpc.aio.Channel
) -> None:
    before = _sample(
        await _metrics(server), "grpc_server_handled_total", VOID_INVOICE, "UNAUTHENTICATED"
    )
    error = await _void_invoice(channel, "not-a-token")
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    after = await _metrics_until(
        server, "grpc_server_handled_total", VOID_INVOICE, "UNAUTHENTICATED", before + 1
    )
    assert after == before + 1


async def test_access_log_line_has_call_facts_and_no_token(
    server: ServerProcess, channel: grpc.aio.Channel
) -> None:
    token = make_token("invoices:write", sub="access-log-test")
    await _void_invoice(channel, token)
    for _ in range(50):  # the line is written right after the call; give the reader thread a moment
        lines = [
            r
            for r in server.records()
            if r.get("logger") == "payment_service.access" and r.get("sub") == "access-log-test"
        ]
        if lines:
            break
        await asyncio.sleep(0.05)
    assert len(lines) == 1
    line = lines[0]
    assert line["method"] == VOID_INVOICE
    assert line["code"] == "INVALID_ARGUMENT"
    assert line["request_id"] == "req-void-1"
    assert line["duration_ms"] >= 0
    assert line["peer"]
    assert token not in server.output()
    assert token.split(".")[2] not in server.output()


async def test_livez(server: ServerProcess) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.http_url}/livez") as response,
    ):
        assert response.status == 200
        assert (await response.text()).strip() == "ok"
