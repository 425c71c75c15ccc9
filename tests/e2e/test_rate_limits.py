"""Rate limits through the real server: over the limit a call is RESOURCE_EXHAUSTED with
RetryInfo and QuotaFailure before any work, the rejection is counted, calls without a
valid token count against their peer, and two server processes sharing one Redis hold
one limit between them."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator

import aiohttp
import grpc
import grpc.aio
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc

from tests.support.db import redis_reachable, redis_url
from tests.support.server import ServerProcess, bearer, make_token, server_env

READS = json.dumps({"per_s": 20, "burst": 10})


def _details(error: grpc.aio.AioRpcError) -> dict[str, object]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    found: dict[str, object] = {}
    for detail in status.details if status else []:
        for kind in (error_details_pb2.RetryInfo, error_details_pb2.QuotaFailure):
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                found[kind.__name__] = message
    return found


async def _get(target: str, metadata: tuple[tuple[str, str], ...], calls: int) -> list[str]:
    """``calls`` GetPayment calls one after another; the status code of each."""
    return [code for code, _ in await _get_with_errors(target, metadata, calls)]


async def _get_with_errors(
    target: str, metadata: tuple[tuple[str, str], ...], calls: int
) -> list[tuple[str, grpc.aio.AioRpcError | None]]:
    """``calls`` GetPayment calls one after another; the status code and error of each."""
    outcomes: list[tuple[str, grpc.aio.AioRpcError | None]] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
        for _ in range(calls):
            try:
                await stub.GetPayment(pb.GetPaymentRequest(id="pay_missing"), metadata=metadata)
                outcomes.append(("OK", None))
            except grpc.aio.AioRpcError as error:
                outcomes.append((error.code().name, error))
    return outcomes


@pytest.fixture
def limited() -> Iterator[ServerProcess]:
    env = server_env(rate_limit_reads=READS, rate_limit_unauthenticated=READS)
    with ServerProcess.start(env) as server:
        yield server


async def test_over_the_limit_is_resource_exhausted_with_retry_and_quota(
    limited: ServerProcess,
) -> None:
    metadata = bearer(make_token(sub=f"svc-{uuid.uuid4().hex[:6]}"))
    outcomes = await _get_with_errors(limited.grpc_target, metadata, 14)
    codes = [code for code, _ in outcomes]
    assert codes[:10] == ["NOT_FOUND"] * 10  # the burst: through to the (empty) database
    assert "RESOURCE_EXHAUSTED" in codes[10:]
    # The refusal itself (not a later call, which may find a token refilled meanwhile).
    refused = next(error for code, error in outcomes if code == "RESOURCE_EXHAUSTED")
    assert refused is not None
    details = _details(refused)
    retry = details["RetryInfo"]
    quota = details["QuotaFailure"]
    assert isinstance(retry, error_details_pb2.RetryInfo)
    assert retry.retry_delay.nanos > 0 or retry.retry_delay.seconds
    assert isinstance(quota, error_details_pb2.QuotaFailure)
    assert quota.violations[0].subject.startswith("caller:svc-")
    async with (
        aiohttp.ClientSession() as session,
        session.get(limited.http_url + "/metrics") as response,
    ):
        text = await response.text()
    assert 'rate_limit_rejections_total{limit="reads"}' in text


async def test_calls_without_a_valid_token_count_against_their_peer(
    limited: ServerProcess,
) -> None:
    codes = await _get(limited.grpc_target, bearer("not-a-token"), 14)

    assert codes[:10] == ["UNAUTHENTICATED"] * 10
    assert "RESOURCE_EXHAUSTED" in codes[10:]


async def test_two_replicas_sharing_redis_hold_one_limit() -> None:
    if not redis_reachable():
        pytest.skip(f"Redis at {redis_url()} is not reachable")
    env = server_env(rate_limit_reads=READS, redis_url=redis_url())
    metadata = bearer(make_token(sub=f"svc-shared-{uuid.uuid4().hex[:6]}"))
    with ServerProcess.start(env) as first, ServerProcess.start(env) as second:
        started = time.monotonic()
        rounds = await asyncio.gather(
            _get(first.grpc_target, metadata, 40), _get(second.grpc_target, metadata, 40)
        )
        elapsed = time.monotonic() - started

    allowed = sum(code == "NOT_FOUND" for codes in rounds for code in codes)
    expected = 10 + 20 * elapsed  # one burst and one rate between both processes
    assert allowed <= expected * 1.05 + 1, (allowed, expected, elapsed)
    assert allowed >= min(80, expected * 0.9), (allowed, expected, elapsed)
    assert allowed < 80  # the shared limit refused some of them
