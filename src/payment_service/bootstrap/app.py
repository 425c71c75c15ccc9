"""The process: the listeners, the background workers and the resources, run until a signal.

``build_app`` takes the parts from ``bootstrap.services`` (the composition root).
To add to the service:

- a resource with a lifetime (DB engine, cache client, Stripe gateway): an object
  with ``async start()``/``async stop()`` appended to ``resources``; resources start
  before the listeners and stop after them, in reverse order;
- a real servicer: construct it and put it in ``Servicers(...)`` (services left as
  None answer UNIMPLEMENTED);
- a background task (webhook retrier, reconciler): ``BackgroundTask("name", coro_fn)``
  where ``coro_fn(stopping: asyncio.Event)`` returns soon after ``stopping`` is set
  appended to ``workers``; workers start after the listeners and stop before the
  resources they use;
- an HTTP route (the Stripe webhook): an ``aiohttp.web.RouteDef`` appended to
  ``http_routes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from payment_service.api.grpc.interceptor import ServiceInterceptor
from payment_service.api.grpc.invoice_servicer import InvoiceServicer
from payment_service.api.grpc.payment_servicer import PaymentServicer
from payment_service.api.grpc.refund_servicer import RefundServicer
from payment_service.api.grpc.server import GrpcServer
from payment_service.api.grpc.services import Servicers, service_bindings
from payment_service.api.grpc.subscription_servicer import SubscriptionServicer
from payment_service.api.http.routes import builtin_routes
from payment_service.api.http.sidecar import HttpSidecar
from payment_service.api.http.webhooks import webhook_route
from payment_service.bootstrap.limits import (
    build_rate_limiter,
    jwks_keys,
    rate_limit_policy,
)
from payment_service.bootstrap.services import (
    Closing,
    Component,
    Overrides,
    Services,
    build_services,
    start_in_order,
)
from payment_service.config import Settings
from payment_service.observability.logs import configure_logging
from payment_service.observability.metrics import Metrics
from payment_service.security.jwt_verifier import JwtVerifier

_log = logging.getLogger("payment_service")


class BackgroundTask:
    """Runs ``run(stopping)`` as an asyncio task from ``start()`` until ``stop()``.

    ``stop()`` first sets ``stopping`` and lets the loop finish the pass it is in
    (so no database transaction or Stripe call is cut in half), and cancels the
    task only when it has not ended within ``stop_timeout_s``.
    """

    def __init__(
        self,
        name: str,
        run: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
        *,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.name = name
        self._run = run
        self._stop_timeout_s = stop_timeout_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._guarded(), name=self.name)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait({self._task}, timeout=self._stop_timeout_s)
        if not done:
            _log.warning(
                "background task did not stop in time; cancelling", extra={"task": self.name}
            )
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _guarded(self) -> None:
        try:
            await self._run(self._stopping)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("background task crashed", extra={"task": self.name})


@dataclass
class App:
    """Everything the process runs; ``start()`` then ``stop()`` (stop undoes only what started)."""

    settings: Settings
    metrics: Metrics
    grpc: GrpcServer
    http: HttpSidecar
    resources: list[Component] = field(default_factory=list)
    workers: list[Component] = field(default_factory=list)
    _running: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def start(self) -> None:
        try:
            await start_in_order([*self.resources, self.http], self._running)
            await self.grpc.start()
            self._running.push_async_callback(self._stop_grpc)
            await start_in_order(self.workers, self._running)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Health NOT_SERVING at once; then, in reverse order of start: workers (they finish
        their pass), gRPC (drain, then grace for calls in flight), HTTP, resources."""
        if self.grpc.started:
            await self.grpc.health.mark_not_serving()
        await self._running.aclose()

    async def _stop_grpc(self) -> None:
        await self.grpc.stop(
            drain_s=self.settings.shutdown_drain_s, grace_s=self.settings.shutdown_grace_s
        )


def build_app(
    settings: Settings,
    *,
    servicers: Servicers | None = None,
    http_routes: Sequence[web.RouteDef] = (),
    overrides: Overrides | None = None,
) -> App:
    """Build (not start) the whole service from settings.

    Without ``servicers`` the real ones are built over the configured database,
    cache and Stripe (``overrides`` swap parts of them); tests pass their own
    servicers to run the server without any.
    """
    metrics = Metrics()
    resources: list[Component] = []
    workers: list[Component] = []
    routes = list(http_routes)
    services: Services | None = None
    if servicers is None:
        given = overrides or Overrides()
        if given.metrics_registry is None:
            given = replace(given, metrics_registry=metrics.registry)
        services = build_services(settings, given)
        resources.extend(services.resources)
        servicers = Servicers(
            payment=PaymentServicer(
                services.payments, services.customers, services.payment_methods
            ),
            refund=RefundServicer(services.refunds),
            subscription=SubscriptionServicer(services.billing),
            invoice=InvoiceServicer(services.billing),
        )
        routes.append(webhook_route(services.webhooks, services.verifier))
        workers.extend(_workers(settings, services))
    interceptor = _interceptor(settings, metrics, services, resources)
    return App(
        settings=settings,
        metrics=metrics,
        grpc=GrpcServer(settings, interceptors=[interceptor], bindings=service_bindings(servicers)),
        http=HttpSidecar(
            host=settings.http_host,
            port=settings.http_port,
            routes=[*builtin_routes(metrics), *routes],
            shutdown_timeout_s=settings.shutdown_grace_s,
        ),
        resources=resources,
        workers=workers,
    )


def _interceptor(
    settings: Settings, metrics: Metrics, services: Services | None, resources: list[Component]
) -> ServiceInterceptor:
    """Auth (static keys, and the JWKS when configured) and the rate limits, over the
    services' limiter (one of its own for servicers a test supplied)."""
    keys = jwks_keys(settings)
    if keys is not None:
        resources.append(keys)
    if services is not None:
        limiter = services.rate_limiter
    else:
        limiter, redis_limiter = build_rate_limiter(settings)
        if redis_limiter is not None:
            resources.append(Closing(redis_limiter))
    return ServiceInterceptor(
        verifier=JwtVerifier.from_settings(settings, keys),
        metrics=metrics.rpc,
        rate_limits=rate_limit_policy(settings, limiter, metrics.rpc),
    )


def _workers(settings: Settings, services: Services) -> list[Component]:
    """The webhook retrier and the reconciler, as background tasks."""
    webhooks, reconciler = services.webhooks, services.reconciler

    async def run_retrier(stopping: asyncio.Event) -> None:
        await webhooks.run_retrier(settings.webhook_retry_poll_s, stopping)

    async def run_reconciler(stopping: asyncio.Event) -> None:
        await reconciler.run_forever(settings.reconcile_interval_s, stopping)

    return [
        BackgroundTask("webhook-retrier", run_retrier),
        BackgroundTask("reconciler", run_reconciler),
    ]


async def serve(settings: Settings, *, servicers: Servicers | None = None) -> None:
    """Run the service until SIGTERM or SIGINT, then shut down gracefully and return."""
    configure_logging(settings.log_level)
    app = build_app(settings, servicers=servicers)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop_requested.set)
    try:
        await app.start()
        _log.info("serving", extra={"grpc_port": app.grpc.port, "http_port": app.http.port})
        await stop_requested.wait()
        _log.info(
            "shutting down",
            extra={"drain_s": settings.shutdown_drain_s, "grace_s": settings.shutdown_grace_s},
        )
    finally:
        await app.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    _log.info("stopped")
