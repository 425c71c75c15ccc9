"""Health (Check) and server reflection on the real process: no token needed."""

from __future__ import annotations

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from tests.support.server import ServerProcess, server_env

PAYMENT_SERVICES = [
    "payments.v1.PaymentService",
    "payments.v1.RefundService",
    "payments.v1.SubscriptionService",
    "payments.v1.InvoiceService",
]


@pytest.mark.parametrize("service", ["", *PAYMENT_SERVICES])
async def test_health_check_is_serving(channel: grpc.aio.Channel, service: str) -> None:
    response = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service)
    )
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_health_check_of_unknown_service_is_not_found(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="nope.v1.Nope")
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_the_services(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.grpc_target) as sync_channel:
        database = ProtoReflectionDescriptorDatabase(sync_channel)
        services = set(database.get_services())
        assert set(PAYMENT_SERVICES) <= services
        assert "grpc.health.v1.Health" in services
        # The descriptors themselves come through too, so grpcurl can build requests.
        file = database.FindFileContainingSymbol("payments.v1.PaymentService")
        assert any(s.name == "PaymentService" for s in file.service)


def test_reflection_can_be_switched_off() -> None:
    with (
        ServerProcess.start(server_env(grpc_reflection="false")) as server,
        grpc.insecure_channel(server.grpc_target) as sync_channel,
    ):
        with pytest.raises(grpc.RpcError) as raised:
            ProtoReflectionDescriptorDatabase(sync_channel).get_services()
        assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
        health = health_pb2_grpc.HealthStub(sync_channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
