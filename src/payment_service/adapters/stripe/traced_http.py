"""Client spans for Stripe: one per HTTP request stripe-python sends (each retry its own).

Spans are named by route template (``POST /v1/payment_intents/{id}/confirm``), never by
the URL with its ids, and carry Stripe's ``Request-Id`` (what Stripe's support asks
for) and the HTTP status. Query strings and bodies are not recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import stripe
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

# A path segment that is an object id: Stripe's prefixed ids (pi_3Mt…, cus_N4…, seti_1…)
# have a digit or a capital after the prefix; resource names (payment_intents) have none.
_ID_SEGMENT = re.compile(r"^[a-z]{2,12}_[A-Za-z0-9_]*[A-Z0-9][A-Za-z0-9_]*$")


def route_template(path: str) -> str:
    """``/v1/payment_intents/pi_3Mt…/confirm`` → ``/v1/payment_intents/{id}/confirm``."""
    return "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/"))


class TracedAIOHTTPClient(stripe.AIOHTTPClient):
    def __init__(self, *args: Any, tracer_provider: trace.TracerProvider | None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._tracer = trace.get_tracer("payment_service.stripe", tracer_provider=tracer_provider)

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        parts = urlsplit(url)
        route = route_template(parts.path)
        with self._tracer.start_as_current_span(
            f"Stripe {method.upper()} {route}",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": method.upper(),
                "url.template": route,
                "server.address": parts.hostname or "",
                "peer.service": "stripe",
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                content, status, response_headers = await super().request_async(
                    method, url, headers, post_data
                )
            except Exception as exc:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            span.set_attribute("http.response.status_code", status)
            request_id = response_headers.get("request-id") or response_headers.get("Request-Id")
            if request_id:
                span.set_attribute("stripe.request_id", request_id)
            if status >= 500 or status == 429:
                span.set_status(Status(StatusCode.ERROR, str(status)))
            return content, status, response_headers
