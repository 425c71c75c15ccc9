"""Prometheus metrics of the requests sent to Stripe, by HTTP method and route template.

Implements adapters.stripe.measured_http.StripeRequestObserver (structurally: this
package imports no adapter).
"""

from __future__ import annotations

from payment_service.observability.catalogue import StripeFamilies

# Outcomes without an answer, and the error kind each counts as.
_NO_ANSWER = {"network_error": "network", "cancelled": "cancelled", "error": "error"}


def error_kind(outcome: str) -> str | None:
    """The kind of a failed request (a 5xx is "server"); None when Stripe answered, a
    decline or a 4xx of ours included: those are answers, not Stripe failing."""
    if outcome.startswith("5"):
        return "server"
    return _NO_ANSWER.get(outcome)


class StripeMetrics(StripeFamilies):
    def observe(self, method: str, route: str, outcome: str, seconds: float) -> None:
        self.requests.labels(method, route, outcome).inc()
        self.duration_seconds.labels(method, route).observe(seconds)
        kind = error_kind(outcome)
        if kind is not None:
            self.errors.labels(method, route, kind).inc()
        elif outcome == "429":
            self.rate_limited.labels(method, route).inc()
