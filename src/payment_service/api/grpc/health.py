"""The standard grpc.health.v1 service: overall ("") status plus one per payments.v1 service."""

from __future__ import annotations

from collections.abc import Iterable

import grpc.aio
from grpc_health.v1 import health as grpc_health
from grpc_health.v1 import health_pb2, health_pb2_grpc

HEALTH_SERVICE = str(health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
OVERALL = ""


class Health:
    """Owns the health servicer; SERVING once the server starts, NOT_SERVING for good at shutdown."""

    def __init__(self, service_names: Iterable[str]) -> None:
        self._servicer = grpc_health.aio.HealthServicer()
        self._service_names = (OVERALL, *service_names)

    def register(self, server: grpc.aio.Server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self._servicer, server)

    async def mark_serving(self) -> None:
        for name in self._service_names:
            await self._servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def mark_not_serving(self) -> None:
        """Every service NOT_SERVING at once (open Watch streams see it); later sets are ignored."""
        await self._servicer.enter_graceful_shutdown()
