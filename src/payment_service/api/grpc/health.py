"""The standard grpc.health.v1 service, as Kubernetes probes it.

Names answered:

- ``liveness``: the process is up and its loop answers. SERVING from start until the
  process ends, also while a dependency is away and during the shutdown's drain (a
  liveness probe that failed then would restart a pod that is only finishing its calls).
- ``""`` (the server as a whole) and each payments.v1 service: readiness. SERVING while
  the database answers (``set_ready``, fed by the probe in bootstrap/readiness.py);
  NOT_SERVING while it does not, and for good once the shutdown begins.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Any

import grpc.aio
from grpc_health.v1 import health as grpc_health
from grpc_health.v1 import health_pb2, health_pb2_grpc

HEALTH_SERVICE = str(health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
OVERALL = ""
LIVENESS = "liveness"

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


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
    """Owns the health servicer: liveness, and readiness of the server and its services."""

    def __init__(self, service_names: Iterable[str]) -> None:
        self._servicer = _HealthServicer()
        self._readiness_names = (OVERALL, *service_names)
        self._ready = True
        self._started = False
        self._shutting_down = False
        self._on_close: list[Callable[[], None]] = []

    def on_close_watches(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` too when the Watch streams end (other streams that end then)."""
        self._on_close.append(callback)

    def register(self, server: grpc.aio.Server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self._servicer, server)

    @property
    def ready(self) -> bool:
        return self._ready and self._started and not self._shutting_down

    async def mark_serving(self) -> None:
        """The server started: alive, and ready unless the database was last seen away."""
        self._started = True
        await self._servicer.set(LIVENESS, _SERVING)
        await self._publish_readiness()

    async def set_ready(self, ready: bool) -> None:
        """Readiness as the dependency probe sees it; ignored once the shutdown began."""
        self._ready = ready
        if self._started and not self._shutting_down:
            await self._publish_readiness()

    async def mark_not_serving(self) -> None:
        """Readiness NOT_SERVING for good (open Watch streams see it); liveness stays SERVING."""
        if self._shutting_down:
            return
        self._shutting_down = True
        for name in self._readiness_names:
            await self._servicer.set(name, _NOT_SERVING)

    def close_watches(self) -> None:
        """End open Watch streams (after the drain, so watchers have seen NOT_SERVING)."""
        self._servicer.close_watches()
        for callback in self._on_close:
            callback()

    async def _publish_readiness(self) -> None:
        status = _SERVING if self.ready else _NOT_SERVING
        for name in self._readiness_names:
            await self._servicer.set(name, status)
