"""Builds the grpc.aio server: payments.v1 services, health, reflection, options from config."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import grpc.aio
from grpc_reflection.v1alpha import reflection

from payment_service.api.grpc.health import HEALTH_SERVICE, Health
from payment_service.api.grpc.services import ServiceBinding
from payment_service.api.grpc.tls import server_credentials
from payment_service.config import Settings

_log = logging.getLogger(__name__)


class ListenError(Exception):
    """The server could not bind its address."""


def server_options(settings: Settings) -> list[tuple[str, int]]:
    """Channel arguments for message size and keepalive policy."""
    return [
        ("grpc.max_receive_message_length", settings.grpc_max_receive_message_bytes),
        ("grpc.keepalive_time_ms", int(settings.grpc_keepalive_time_s * 1000)),
        ("grpc.keepalive_timeout_ms", int(settings.grpc_keepalive_timeout_s * 1000)),
        # Clients may ping this often, also between calls, before the server answers GOAWAY.
        (
            "grpc.http2.min_ping_interval_without_data_ms",
            int(settings.grpc_keepalive_min_ping_interval_s * 1000),
        ),
        ("grpc.keepalive_permit_without_calls", 1),
        # Fail loudly when the port is taken instead of silently sharing it with another process.
        ("grpc.so_reuseport", 0),
    ]


def host_port(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6 literal
    return f"{host}:{port}"


class GrpcServer:
    """The gRPC listener with its health service; ``port`` is the bound port (useful with port 0)."""

    def __init__(
        self,
        settings: Settings,
        *,
        interceptors: Sequence[grpc.aio.ServerInterceptor],
        bindings: Sequence[ServiceBinding],
    ) -> None:
        # Certificates are read first: a configuration error comes before any resource.
        credentials = server_credentials(settings)
        self._server = grpc.aio.server(
            interceptors=list(interceptors), options=server_options(settings)
        )
        service_names = [binding.name for binding in bindings]
        for binding in bindings:
            binding.register(self._server)
        self._started = False
        self.health = Health(service_names)
        self.health.register(self._server)
        if settings.grpc_reflection:
            reflection.enable_server_reflection(
                [*service_names, HEALTH_SERVICE, reflection.SERVICE_NAME], self._server
            )
        address = host_port(settings.grpc_host, settings.grpc_port)
        self.tls = credentials is not None
        try:
            if credentials is None:
                self.port = self._server.add_insecure_port(address)
            else:
                self.port = self._server.add_secure_port(address, credentials)
        except RuntimeError as exc:
            raise ListenError(f"grpc_port: cannot listen on {address}: {exc}") from None

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        await self._server.start()
        self._started = True
        await self.health.mark_serving()

    async def stop(self, *, drain_s: float, grace_s: float) -> None:
        """NOT_SERVING at once, wait ``drain_s`` for balancers to notice, then let calls finish."""
        await self.health.mark_not_serving()
        if drain_s > 0:
            await asyncio.sleep(drain_s)
        self.health.close_watches()
        _log.info("stopping grpc server", extra={"grace_s": grace_s})
        await self._server.stop(grace_s)
