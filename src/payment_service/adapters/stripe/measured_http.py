"""Every HTTP request to Stripe, seen once on the wire: timed for the metrics and, when
tracing is on, a client span.

``MeasuredHTTPClient`` sits in front of the stripe-python HTTP client the connection
uses (its async fallback client does the sending), so each request is seen once,
stripe-python's own retries included, whatever gateway method sent it. Both the metric
label and the span name use the path's route template (computed once per request):
``POST /v1/payment_intents/{id}/confirm``, never a URL with ids in it (ids would make a
label value per object). Spans carry Stripe's ``Request-Id`` (what Stripe's support asks
for) and the HTTP status; query strings and bodies are not recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

import stripe
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

# Outcomes that are no HTTP status.
NETWORK_ERROR = "network_error"
CANCELLED = "cancelled"  # our timeout or the caller's deadline cut the request
FAILED = "error"  # anything else raised before an answer came

# A path segment that is an object id: Stripe's prefixed ids (pi_3Mt…, cus_N4…, seti_1…)
# have a digit or a capital after the prefix; resource names (payment_intents) have none.
_ID_SEGMENT = re.compile(r"^[a-z]{2,12}_[A-Za-z0-9_]*[A-Z0-9][A-Za-z0-9_]*$")


def route_template(path: str) -> str:
    """``/v1/payment_intents/pi_3Mt…/confirm`` → ``/v1/payment_intents/{id}/confirm``."""
    return "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/"))


class StripeRequestObserver(Protocol):
    def observe(self, method: str, route: str, outcome: str, seconds: float) -> None:
        """One request: ``outcome`` is the HTTP status ("200", "429"), NETWORK_ERROR,
        CANCELLED or FAILED."""
        ...


class MeasuredHTTPClient(stripe.HTTPClient):
    """A stripe-python HTTP client that reports each request of ``inner`` to ``observer``
    and, given a tracer provider, wraps it in a client span."""

    name: ClassVar[str] = "measured"

    def __init__(
        self,
        inner: stripe.HTTPClient,
        observer: StripeRequestObserver | None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        super().__init__(async_fallback_client=inner)
        self._observer = observer
        self._tracer = (
            None
            if tracer_provider is None
            else trace.get_tracer("payment_service.stripe", tracer_provider=tracer_provider)
        )

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        parts = urlsplit(url)
        route = route_template(parts.path)
        verb = method.upper()
        started = time.perf_counter()
        outcome = FAILED
        with self._span(verb, route, parts.hostname or "") as span:
            try:
                content, status, response_headers = await super().request_async(
                    method, url, headers, post_data
                )
                outcome = str(status)
            except stripe.APIConnectionError:
                outcome = NETWORK_ERROR
                raise
            except asyncio.CancelledError:
                outcome = CANCELLED
                raise
            finally:
                if self._observer is not None:
                    self._observer.observe(verb, route, outcome, time.perf_counter() - started)
                if span is not None:
                    _end_span(span, outcome, response_headers if outcome.isdigit() else {})
        return content, status, response_headers

    @contextlib.contextmanager
    def _span(self, verb: str, route: str, host: str) -> Iterator[trace.Span | None]:
        if self._tracer is None:
            yield None
            return
        with self._tracer.start_as_current_span(
            f"Stripe {verb} {route}",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": verb,
                "url.template": route,
                "server.address": host,
                "peer.service": "stripe",
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            yield span


def _end_span(span: trace.Span, outcome: str, response_headers: Mapping[str, str]) -> None:
    """The answer on the span: status code and Stripe's Request-Id, or what went wrong."""
    if not outcome.isdigit():
        span.set_status(Status(StatusCode.ERROR, outcome))
        return
    status = int(outcome)
    span.set_attribute("http.response.status_code", status)
    request_id = response_headers.get("request-id") or response_headers.get("Request-Id")
    if request_id:
        span.set_attribute("stripe.request_id", request_id)
    if status >= 500 or status == 429:
        span.set_status(Status(StatusCode.ERROR, outcome))
