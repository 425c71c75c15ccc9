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
  appended to ``workers``; workers start after the listeners; at shutdown they are told
  to stop at once and have until the end of the grace (then they are cancelled), and
  they stop before the resources they use;
- an HTTP route (the Stripe webhook): an ``aiohttp.web.RouteDef`` appended to
  ``http_routes``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from payment_service.api.grpc.dispute_servicer import DisputeServicer
from payment_service.api.grpc.event_servicer import EventServicer
from payment_service.api.grpc.health import Health
from payment_service.api.grpc.in_flight import InFlightCalls
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
from payment_service.app.common.refused_auth import RefusedAuthentications
from payment_service.bootstrap.limits import (
    build_rate_limiter,
    jwks_keys,
    rate_limit_policy,
)
from payment_service.bootstrap.readiness import ReadinessMonitor, dependencies
from payment_service.bootstrap.services import (
    Closing,
    Component,
    Overrides,
    Services,
    build_services,
)
from payment_service.config import Settings
from payment_service.observability.dependency_metrics import DependencyMetrics
from payment_service.observability.logs import configure_logging
from payment_service.observability.metrics import Metrics
from payment_service.security.jwt_verifier import JwtVerifier

_log = logging.getLogger("payment_service")


# Past the deadline (drain + grace), each a bound on a step that normally takes
# milliseconds: a listener's own stop may overrun it by STOP_SLACK_S before it is left
# behind; a call or pass cancelled there gets UNWIND_S to unwind (roll back, give its
# Stripe-call lease back); then closing the resources gets CLOSE_S. All together half a
# second at worst, inside the second the whole shutdown may take past drain + grace, so
# the rest is left for the interpreter to exit.
STOP_SLACK_S = 0.1
UNWIND_S = 0.25
CLOSE_S = 0.15


class BackgroundTask:
    """Runs ``run(stopping)`` as an asyncio task from ``start()`` until ``stop(deadline)``.

    ``request_stop()`` sets ``stopping``: the loop finishes the pass it is in and starts
    no other. ``stop(deadline)`` waits for that until ``deadline`` (``time.monotonic()``),
    then cancels the task and gives it ``UNWIND_S`` to unwind. A pass cut there leaves its
    work repairable, as every pass must: a Stripe call carries an idempotency key made from
    our row id and leaves its row PENDING (the lease given back, or expiring), a claimed
    webhook event comes due again when its claim lease ends, the reconciler's event cursor
    moves only after a page is stored, and an uncommitted transaction rolls back.
    """

    def __init__(
        self, name: str, run: Callable[[asyncio.Event], Coroutine[Any, Any, None]]
    ) -> None:
        self.name = name
        self._run = run
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._guarded(), name=self.name)

    def request_stop(self) -> None:
        self._stopping.set()

    async def stop(self, deadline: float) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait({task}, timeout=_left(deadline))
        if done:
            return
        _log.warning(
            "background task did not finish its pass in time; cancelling",
            extra={"task": self.name},
        )
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=UNWIND_S)
        if not done:
            _log.error("background task did not unwind in time", extra={"task": self.name})

    async def _guarded(self) -> None:
        try:
            await self._run(self._stopping)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("background task crashed", extra={"task": self.name})


def _left(until: float) -> float:
    return max(0.0, until - time.monotonic())


async def _within(step: Awaitable[None], until: float, what: str) -> None:
    """Await ``step`` until ``until`` (``time.monotonic()``); past it, cancel it and go on."""
    try:
        async with asyncio.timeout(_left(until)):
            await step
    except TimeoutError:
        _log.error("shutdown step did not end in time; cut", extra={"step": what})


@dataclass
class App:
    """Everything the process runs; ``start()`` then ``stop()`` (stop undoes only what started)."""

    settings: Settings
    metrics: Metrics
    grpc: GrpcServer
    http: HttpSidecar
    resources: list[Component] = field(default_factory=list)
    workers: list[BackgroundTask] = field(default_factory=list)
    in_flight: InFlightCalls = field(default_factory=InFlightCalls)
    _started: list[Component] = field(default_factory=list)
    _http_started: bool = False
    _grpc_started: bool = False
    _running_workers: list[BackgroundTask] = field(default_factory=list)

    async def start(self) -> None:
        try:
            for resource in self.resources:
                await resource.start()
                self._started.append(resource)
            await self.http.start()
            self._http_started = True
            await self.grpc.start()
            self._grpc_started = True
            for worker in self.workers:
                await worker.start()
                self._running_workers.append(worker)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """The whole shutdown within drain + grace (and the slack above), however busy.

        At once: health NOT_SERVING, and every background task is told to finish its pass.
        For the drain both listeners still answer (balancers move away); then gRPC and the
        HTTP sidecar refuse new calls and give those in flight the rest of the grace. At
        drain + grace whatever still runs (calls, passes) is cancelled and gets UNWIND_S
        to unwind; only then, nothing left using them, the resources close in reverse order.
        """
        settings = self.settings
        deadline = time.monotonic() + settings.shutdown_drain_s + settings.shutdown_grace_s
        if self._grpc_started:
            await self.grpc.health.mark_not_serving()
        workers, self._running_workers = self._running_workers, []
        for worker in workers:
            worker.request_stop()
        outcomes = await asyncio.gather(
            self._stop_listeners(deadline),
            *(worker.stop(deadline) for worker in workers),
            return_exceptions=True,
        )
        await self._close_resources(time.monotonic() + CLOSE_S)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _stop_listeners(self, deadline: float) -> None:
        steps: list[Awaitable[None]] = []
        if self._grpc_started:
            self._grpc_started = False
            # The drain: both listeners still answer while balancers see NOT_SERVING.
            await asyncio.sleep(min(self.settings.shutdown_drain_s, _left(deadline)))
            steps.append(self._stop_grpc(deadline))
        if self._http_started:
            self._http_started = False
            steps.append(_within(self.http.stop(), deadline + STOP_SLACK_S, "http"))
        await asyncio.gather(*steps)

    async def _stop_grpc(self, deadline: float) -> None:
        """New calls refused; the work of calls still running (also of those answered
        already) goes on until ``deadline``, then is cancelled and gets UNWIND_S."""
        grpc_stop = self.grpc.stop(drain_s=0.0, grace_s=_left(deadline))
        await _within(grpc_stop, deadline + STOP_SLACK_S, "grpc")
        left = await self.in_flight.settle(_left(deadline), UNWIND_S)
        if left:
            _log.error("calls did not unwind in time", extra={"calls": left})

    async def _close_resources(self, until: float) -> None:
        started, self._started = self._started, []
        for resource in reversed(started):
            try:
                await _within(resource.stop(), until, type(resource).__name__)
            except Exception:
                _log.exception("closing a resource failed", extra={"step": type(resource).__name__})


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
    workers: list[BackgroundTask] = []
    routes = list(http_routes)
    services: Services | None = None
    if servicers is None:
        given = overrides or Overrides()
        if given.metrics_registry is None:
            given = replace(given, metrics_registry=metrics.registry)
        services = build_services(settings, given)
        resources.extend(services.resources)
        servicers, webhook, service_workers = _served(settings, services)
        routes.append(webhook)
        workers.extend(service_workers)
    refusals = None if services is None else RefusedAuthentications(services.uow_factory)
    if refusals is not None:
        workers.append(_refusals_writer(settings, refusals))
    interceptor = _interceptor(settings, metrics, services, resources, refusals)
    grpc_server = GrpcServer(
        settings, interceptors=[interceptor], bindings=service_bindings(servicers)
    )
    if services is not None:
        workers.append(_readiness(settings, grpc_server.health, metrics, resources))
        if services.event_engine is not None:  # WatchEvents streams end with the drain
            grpc_server.health.on_close_watches(services.event_engine.close_streams)
    return App(
        settings=settings,
        metrics=metrics,
        grpc=grpc_server,
        http=HttpSidecar(
            host=settings.http_host,
            port=settings.http_port,
            routes=[*builtin_routes(metrics), *routes],
            # aiohttp waits this long for a request in flight, then as long again for it
            # to end once cancelled: the two together fit in the grace.
            shutdown_timeout_s=settings.shutdown_grace_s / 2,
        ),
        resources=resources,
        workers=workers,
        in_flight=interceptor.in_flight,
    )


def _served(
    settings: Settings, services: Services
) -> tuple[Servicers, web.RouteDef, list[BackgroundTask]]:
    """The real servicers, the Stripe webhook route and the background workers over them."""
    servicers = Servicers(
        payment=PaymentServicer(
            services.payments,
            services.customers,
            services.payment_methods,
            services.cards.setup_intents,
        ),
        refund=RefundServicer(services.refunds),
        subscription=SubscriptionServicer(services.billing),
        invoice=InvoiceServicer(services.billing),
        dispute=DisputeServicer(services.cards.disputes),
        event=EventServicer(services.event_engine.events) if services.event_engine else None,
    )
    webhook = webhook_route(
        services.webhooks,
        services.verifier,
        metrics=services.webhook_metrics,
        tracer_provider=services.tracer_provider,
        inline=settings.webhook_apply_inline,
    )
    return servicers, webhook, _workers(settings, services)


def _interceptor(
    settings: Settings,
    metrics: Metrics,
    services: Services | None,
    resources: list[Component],
    refusals: RefusedAuthentications | None,
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
        refusals=refusals,
        tracer_provider=None if services is None else services.tracer_provider,
    )


def _refusals_writer(settings: Settings, refusals: RefusedAuthentications) -> BackgroundTask:
    """Refused authentications to the audit trail, a window at a time (and one at stop)."""

    async def run(stopping: asyncio.Event) -> None:
        await refusals.run_forever(settings.audit_refusals_window_s, stopping)

    return BackgroundTask("refused-auth-audit", run)


def _workers(settings: Settings, services: Services) -> list[BackgroundTask]:
    """The webhook appliers (new and failed events) and the reconciler, as background tasks."""
    webhooks, reconciler = services.webhooks, services.reconciler

    async def run_retrier(stopping: asyncio.Event) -> None:
        await webhooks.run_appliers(
            settings.webhook_appliers,
            settings.webhook_apply_poll_s,
            stopping,
            gauges_s=settings.webhook_retry_poll_s,
        )

    async def run_reconciler(stopping: asyncio.Event) -> None:
        await reconciler.run_forever(settings.reconcile_interval_s, stopping)

    return [
        BackgroundTask("webhook-retrier", run_retrier),
        BackgroundTask("reconciler", run_reconciler),
    ]


def _readiness(
    settings: Settings, health: Health, metrics: Metrics, resources: list[Component]
) -> BackgroundTask:
    """The probe that keeps readiness in line with the database (bootstrap/readiness.py)."""
    monitor = ReadinessMonitor(health, dependencies(settings), DependencyMetrics(metrics.registry))
    resources.append(Closing(monitor))
    return BackgroundTask("readiness", monitor.run)


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
        # What is on the heap now (modules, the service's own objects) lives as long as
        # the process: keep it out of the collector's full passes, which would otherwise
        # stop the event loop for a tenth of a second or more each, long enough for an
        # answer to miss its caller's deadline.
        gc.freeze()
        _log.info("serving", extra={"grpc_port": app.grpc.port, "http_port": app.http.port})
        await stop_requested.wait()
        _log.info(
            "shutting down",
            extra={"drain_s": settings.shutdown_drain_s, "grace_s": settings.shutdown_grace_s},
        )
    finally:
        stopping = time.monotonic()
        await app.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    _log.info("stopped", extra={"shutdown_s": round(time.monotonic() - stopping, 3)})
    # The interpreter's exit collects the whole heap (stripe-python, protobuf and SQLAlchemy
    # are large): over half a second idle, seconds on a loaded machine, all of it past the
    # shutdown's budget. Everything that needed closing is closed; leave the rest to the OS.
    gc.freeze()
