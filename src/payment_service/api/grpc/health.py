"""The standard grpc.health.v1 service: overall ("") status plus one per payments.v1 service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import grpc.aio
from grpc_health.v1 import health as grpc_health
from grpc_health.v1 import health_pb2, health_pb2_grpc

HEALTH_SERVICE = str(health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
OVERALL = ""


class _HealthServicer(grpc_health.aio.HealthServicer):
    """The stock servicer, except that Watch streams end (status OK) once ``close_watches``
    is called, so open streams do not hold the server's shutdown for its whole grace."""

    def __init__(self) -> None:
        super().__init__()
        self._closing = asyncio.Event()

    async def Watch(
        self,
        request: health_pb2.HealthCheckRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> None:
        watch = asyncio.ensure_future(super().Watch(request, context))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait({watch, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            if not watch.done():
                watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch

    def close_watches(self) -> None:
        self._closing.set()


class Health:
    """Owns the health servicer; SERVING once the server starts, NOT_SERVING for good at shutdown."""

    def __init__(self, service_names: Iterable[str]) -> None:
        self._servicer = _HealthServicer()
        self._service_names = (OVERALL, *service_names)

    def register(self, server: grpc.aio.Server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self._servicer, server)

    async def mark_serving(self) -> None:
        for name in self._service_names:
            await self._servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def mark_not_serving(self) -> None:
        """Every service NOT_SERVING at once (open Watch streams see it); later sets are ignored."""
        await self._servicer.enter_graceful_shutdown()

    def close_watches(self) -> None:
        """End open Watch streams (after the drain, so watchers have seen NOT_SERVING)."""
        self._servicer.close_watches()
