"""Prometheus metrics of the requests sent to Stripe, by HTTP method and route template.

Implements adapters.stripe.measured_http.StripeRequestObserver (structurally: this
package imports no adapter).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from payment_service.observability.families import Families
from payment_service.observability.metrics import RPC_LATENCY_BUCKETS

# Outcomes without an answer, and the error kind each counts as.
_NO_ANSWER = {"network_error": "network", "cancelled": "cancelled", "error": "error"}


def error_kind(outcome: str) -> str | None:
    """The kind of a failed request (a 5xx is "server"); None when Stripe answered, a
    decline or a 4xx of ours included: those are answers, not Stripe failing."""
    if outcome.startswith("5"):
        return "server"
    return _NO_ANSWER.get(outcome)


class StripeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        family = Families(registry)
        self._requests = family.counter(
            "stripe_requests",
            "HTTP requests sent to Stripe (each retry counts), by method, route template and "
            "outcome (the HTTP status, or network_error, cancelled, error).",
            "method",
            "route",
            "outcome",
        )
        self._latency = family.histogram(
            "stripe_request_duration_seconds",
            "Time from sending a request to Stripe to its answer (or failure), by method and "
            "route template.",
            "method",
            "route",
            buckets=RPC_LATENCY_BUCKETS,
        )
        self._errors = family.counter(
            "stripe_request_errors",
            "Requests Stripe did not answer normally, by method, route template and kind "
            "(server: a 5xx, network: no connection or answer, cancelled: cut by our timeout "
            "or the caller's deadline, error: anything else).",
            "method",
            "route",
            "kind",
        )
        self._rate_limited = family.counter(
            "stripe_rate_limited",
            "Requests Stripe answered 429 (rate limited), by method and route template.",
            "method",
            "route",
        )

    def observe(self, method: str, route: str, outcome: str, seconds: float) -> None:
        self._requests.labels(method, route, outcome).inc()
        self._latency.labels(method, route).observe(seconds)
        kind = error_kind(outcome)
        if kind is not None:
            self._errors.labels(method, route, kind).inc()
        elif outcome == "429":
            self._rate_limited.labels(method, route).inc()
