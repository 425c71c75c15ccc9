"""The HTTP sidecar (aiohttp) sharing the process and loop with the gRPC server.

Routes are passed in at construction (``builtin_routes`` plus any others, such as
the Stripe webhook route), so the composition root decides what is exposed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiohttp import web

_log = logging.getLogger(__name__)


class HttpSidecar:
    """An aiohttp app behind AppRunner/TCPSite; ``port`` is known after ``start()``."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        routes: Iterable[web.RouteDef],
        client_max_size: int = 1024 * 1024,
        shutdown_timeout_s: float = 5.0,
    ) -> None:
        self.app = web.Application(client_max_size=client_max_size)
        self.app.add_routes(list(routes))
        self._host = host
        self._requested_port = port
        self._shutdown_timeout_s = shutdown_timeout_s
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=self._shutdown_timeout_s)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._requested_port, reuse_port=False)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise OSError(
                exc.errno,
                f"http_port: cannot listen on {self._host}:{self._requested_port}: {exc.strerror}",
            ) from None
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
