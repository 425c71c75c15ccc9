"""The sidecar's built-in routes: liveness and Prometheus metrics."""

from __future__ import annotations

from aiohttp import web

from payment_service.observability.metrics import METRICS_CONTENT_TYPE, Metrics


async def livez(_request: web.Request) -> web.Response:
    """The process is up and its loop answers; says nothing about dependencies."""
    return web.Response(text="ok\n")


def metrics_route(metrics: Metrics) -> web.RouteDef:
    async def handler(_request: web.Request) -> web.Response:
        response = web.Response(body=metrics.render())
        response.headers["Content-Type"] = METRICS_CONTENT_TYPE
        return response

    return web.get("/metrics", handler)


def builtin_routes(metrics: Metrics) -> list[web.RouteDef]:
    return [web.get("/livez", livez), metrics_route(metrics)]
