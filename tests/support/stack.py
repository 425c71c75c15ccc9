"""The whole service in-process for gRPC tests: real gRPC server, real database,
real cache (in-memory or Redis) and localstripe behind the outage proxy.

``Stack`` is built by ``start_stack`` and torn down by ``stop``; tests talk to it
only through the generated stubs, as a client service would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from payments.v1 import payment_service_pb2_grpc, refund_service_pb2_grpc

from payment_service.bootstrap.app import App, build_app
from payment_service.bootstrap.services import Overrides
from payment_service.config import Settings
from tests.support.server import (
    ALL_SCOPES,
    TEST_AUDIENCE,
    TEST_HS256_SECRET,
    TEST_ISSUER,
    bearer,
    make_token,
)


def stack_settings(database_url: str, stripe_api_base: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "grpc_port": 0,
        "http_port": 0,
        "auth_hs256_secret": TEST_HS256_SECRET,
        "auth_issuer": TEST_ISSUER,
        "auth_audience": TEST_AUDIENCE,
        "stripe_api_key": "sk_test_stack",
        "stripe_api_base": stripe_api_base,
        "stripe_timeout_s": 5.0,
        "stripe_max_network_retries": 0,
        "shutdown_drain_s": 0,
        "shutdown_grace_s": 1,
        "log_level": "WARNING",
        # Tests that need the reconciler run it themselves; a periodic pass in every
        # stack would replay the shared localstripe's whole event history.
        "reconcile_interval_s": 0,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Stack:
    app: App
    channel: grpc.aio.Channel
    payments: payment_service_pb2_grpc.PaymentServiceStub
    refunds: refund_service_pb2_grpc.RefundServiceStub

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.app.http.port}"

    async def stop(self) -> None:
        await self.channel.close()
        await self.app.stop()


async def start_stack(settings: Settings, overrides: Overrides | None = None) -> Stack:
    app = build_app(settings, overrides=overrides)
    await app.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc.port}")
    return Stack(
        app=app,
        channel=channel,
        payments=payment_service_pb2_grpc.PaymentServiceStub(channel),
        refunds=refund_service_pb2_grpc.RefundServiceStub(channel),
    )


def auth(
    sub: str = "svc-checkout", *, account_id: str | None = None, scopes: str = ALL_SCOPES
) -> tuple[tuple[str, str], ...]:
    """Call metadata with a fresh token for ``sub`` (optionally restricted to one account)."""
    return bearer(make_token(scopes, sub=sub, account_id=account_id))


@dataclass(frozen=True)
class ErrorDetails:
    code: grpc.StatusCode
    message: str
    reason: str
    metadata: Mapping[str, str]
    field_violations: Mapping[str, str]
    retry_delay_s: float | None


def error_details(error: grpc.aio.AioRpcError) -> ErrorDetails:
    """The google.rpc.Status details of a failed call, flattened for assertions."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    reason, metadata, violations, retry = "", {}, {}, None
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = {v.field: v.description for v in bad.field_violations}
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info_retry = error_details_pb2.RetryInfo()
            detail.Unpack(info_retry)
            retry = info_retry.retry_delay.ToTimedelta().total_seconds()
    return ErrorDetails(error.code(), error.details() or "", reason, metadata, violations, retry)
