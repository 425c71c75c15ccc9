"""Every HTTP request to Stripe, timed and reported by route template.

``MeasuredHTTPClient`` sits in front of the stripe-python HTTP client the connection
uses (its async fallback client does the sending), so each request on the wire is seen
once, stripe-python's own retries included, whatever gateway method sent it. The route
is the path's template, as the request's span names it (traced_http.py):
``/v1/payment_intents/{id}/confirm``, never a URL with ids in it (ids would make a label
value per object).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

import stripe

from payment_service.adapters.stripe.traced_http import route_template

# Outcomes that are no HTTP status.
NETWORK_ERROR = "network_error"
CANCELLED = "cancelled"  # our timeout or the caller's deadline cut the request
FAILED = "error"  # anything else raised before an answer came


class StripeRequestObserver(Protocol):
    def observe(self, method: str, route: str, outcome: str, seconds: float) -> None:
        """One request: ``outcome`` is the HTTP status ("200", "429"), NETWORK_ERROR,
        CANCELLED or FAILED."""
        ...


class MeasuredHTTPClient(stripe.HTTPClient):
    """A stripe-python HTTP client that times each request of ``inner`` for ``observer``."""

    name: ClassVar[str] = "measured"

    def __init__(self, inner: stripe.HTTPClient, observer: StripeRequestObserver) -> None:
        super().__init__(async_fallback_client=inner)
        self._observer = observer

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        route = route_template(urlsplit(url).path)
        verb = method.upper()
        started = time.perf_counter()
        outcome = FAILED
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
            self._observer.observe(verb, route, outcome, time.perf_counter() - started)
        return content, status, response_headers
