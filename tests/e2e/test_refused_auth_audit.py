"""Refused authentications reach the audit trail, aggregated per peer: a flood of bad calls
is a handful of rows (one per reason a window), read back with `payment-service audit`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import grpc
import grpc.aio
import pytest
from payments.v1 import payment_service_pb2, payment_service_pb2_grpc

from tests.e2e.test_webhooks_delivery import run_cli
from tests.support.server import (
    ServerProcess,
    bearer,
    make_token,
    new_migrated_sqlite_url,
    server_env,
)

GET_PAYMENT = payment_service_pb2.GetPaymentRequest(id="pay_123")
NO_TOKEN, BAD_TOKEN, NO_SCOPE = 40, 25, 5


@pytest.fixture
def refusing_server() -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    # A database of its own: the session's shared one has other tests' refusals from 127.0.0.1.
    env = server_env(audit_refusals_window_s="0.2", database_url=new_migrated_sqlite_url())
    with ServerProcess.start(env) as process:
        yield process, env


async def _refused(stub: Any, metadata: Any, times: int) -> set[grpc.StatusCode]:
    codes: set[grpc.StatusCode] = set()
    for _ in range(times):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetPayment(GET_PAYMENT, metadata=metadata, timeout=10)
        codes.add(raised.value.code())
    return codes


def _peer_rows(env: dict[str, str]) -> list[dict[str, Any]]:
    result = run_cli(env, "audit", "--object", "peer:127.0.0.1")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


async def test_a_flood_of_refused_calls_is_one_row_per_reason(
    refusing_server: tuple[ServerProcess, dict[str, str]],
) -> None:
    server, env = refusing_server
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
        assert await _refused(stub, (), NO_TOKEN) == {grpc.StatusCode.UNAUTHENTICATED}
        assert await _refused(stub, bearer("not.a.jwt"), BAD_TOKEN) == {
            grpc.StatusCode.UNAUTHENTICATED
        }
        no_scope = bearer(make_token(sub="svc-reports", scopes=["refunds:read"]))
        assert await _refused(stub, no_scope, NO_SCOPE) == {grpc.StatusCode.PERMISSION_DENIED}
    await asyncio.sleep(0.6)  # a window or two: the rows are written off the callers' path
    rows = _peer_rows(env)

    by_reason: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        assert row["action"] == "auth.refused"
        assert row["peer"] == "127.0.0.1"
        by_reason.setdefault(row["outcome"], []).append(row)
    counts = {
        reason: sum(int(r["detail"]["count"]) for r in found) for reason, found in by_reason.items()
    }
    assert counts == {
        "TOKEN_MISSING": NO_TOKEN,
        "TOKEN_INVALID": BAD_TOKEN,
        "MISSING_SCOPE": NO_SCOPE,
    }
    # Aggregated: a few rows at most per reason (one per window it spanned), not one per call.
    assert len(rows) <= 3 * len(counts) < NO_TOKEN + BAD_TOKEN + NO_SCOPE
    [scope_row] = by_reason["MISSING_SCOPE"]
    assert scope_row["caller"] == "svc-reports"
    assert scope_row["detail"]["methods"] == "/payments.v1.PaymentService/GetPayment"
    assert {r["caller"] for r in by_reason["TOKEN_MISSING"]} == {"anonymous"}
