"""POST /stripe/webhooks: verify, store, answer; the appliers apply the event after.

Checks run before anything is parsed or stored, cheapest first: no secret
configured -> 404 (fails closed); non-JSON content type -> 415; body over
1 MiB -> 413 (at most 1 MiB + 1 byte is read, whatever Content-Length says);
missing or bad signature -> 400. A verified body that is no Stripe event is a
400 as well. A verified event is stored with the deliveries arriving beside it
(one INSERT and one commit, ``app.webhooks.ingest``) and answered 200 only once
committed: ``accepted`` (the appliers apply it) or ``duplicate`` (stored before).
When the event could not be stored the answer is 503, so Stripe retries.

With ``inline`` (setting ``webhook_apply_inline``, the path before the split) the
event is applied within the request: 200 applied, ignored, quarantined or a
duplicate, or 202 (stored; applying failed and the retrier owns it now).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer, TracerProvider

from payment_service.app.ports.webhooks import MalformedEvent, WebhookRejected, WebhookVerifier
from payment_service.app.webhooks.ingest import NotStored
from payment_service.app.webhooks.policy import Delivery
from payment_service.app.webhooks.service import Webhooks

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/stripe/webhooks"
MAX_BODY_BYTES = 1024 * 1024
_CHUNK = 64 * 1024
_JSON_TYPES = frozenset({"application/json"})
# Deliveries applied (or settled as ignored or quarantined) within their request.
_SETTLED = frozenset({Delivery.APPLIED.value, Delivery.IGNORED.value, Delivery.QUARANTINED.value})


class _TooLarge(Exception):
    pass


async def _read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)


def _answer(status: int, result: str) -> web.Response:
    return web.json_response({"result": result}, status=status)


class DeliveryMetrics(Protocol):
    def answered(self, status: int) -> None:
        """One delivery answered with HTTP ``status`` (the module docstring says which)."""
        ...

    def settled_after(self, seconds: float) -> None:
        """A delivery settled within its request, ``seconds`` after it arrived."""
        ...


def webhook_route(
    webhooks: Webhooks,
    verifier: WebhookVerifier,
    *,
    path: str = WEBHOOK_PATH,
    max_body_bytes: int = MAX_BODY_BYTES,
    metrics: DeliveryMetrics | None = None,
    tracer_provider: TracerProvider | None = None,
    inline: bool = False,
) -> web.RouteDef:
    """The webhook endpoint; each delivery is a server span (Stripe sends no trace context)
    and, with ``metrics``, counted by status (and, ``inline``, timed while it settles)."""
    endpoint = _WebhookEndpoint(
        take=webhooks.receive if inline else webhooks.accept,
        verifier=verifier,
        path=path,
        max_body_bytes=max_body_bytes,
        metrics=metrics,
        tracer=trace.get_tracer("payment_service.http", tracer_provider=tracer_provider),
    )
    return web.post(path, endpoint.handle)


@dataclass(frozen=True)
class _WebhookEndpoint:
    take: Callable[[str], Awaitable[Delivery]]  # store (and, inline, apply) a verified body
    verifier: WebhookVerifier
    path: str
    max_body_bytes: int
    metrics: DeliveryMetrics | None
    tracer: Tracer

    async def handle(self, request: web.Request) -> web.Response:
        with self.tracer.start_as_current_span(
            f"POST {self.path}",
            kind=SpanKind.SERVER,
            attributes={"http.request.method": "POST", "http.route": self.path},
        ) as span:
            response = await self._respond(request)
            span.set_attribute("http.response.status_code", response.status)
            return response

    async def _respond(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        status, result = await self._settle(request)
        if self.metrics is not None:
            self.metrics.answered(status)
            if result in _SETTLED:
                self.metrics.settled_after(time.perf_counter() - arrived)
        return _answer(status, result)

    async def _settle(self, request: web.Request) -> tuple[int, str]:
        if not self.verifier.configured:
            return 404, "not found"
        if request.content_type not in _JSON_TYPES:
            return 415, "unsupported content type"
        try:
            body = await _read_limited(request, self.max_body_bytes)
        except _TooLarge:
            return 413, "body too large"
        try:
            self.verifier.verify(body, request.headers.get("Stripe-Signature"))
        except WebhookRejected as rejected:
            log.warning("webhook rejected", extra={"reason": str(rejected)})
            return 400, "invalid signature"
        return await self._store(body)

    async def _store(self, body: bytes) -> tuple[int, str]:
        try:
            delivery = await self.take(body.decode("utf-8"))
        except (MalformedEvent, UnicodeDecodeError) as malformed:
            log.warning("signed webhook body is not an event", extra={"reason": str(malformed)})
            return 400, "not a Stripe event"
        except NotStored:  # logged once for its whole batch
            return 503, "not stored; retry"
        except Exception:
            log.exception("webhook event could not be stored")
            return 503, "not stored; retry"
        return (202 if delivery is Delivery.DEFERRED else 200), delivery.value
