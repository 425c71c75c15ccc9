"""How the gateway reaches Stripe: built once from Settings in the composition root."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from opentelemetry.trace import TracerProvider

from payment_service.adapters.stripe.measured_http import StripeRequestObserver
from payment_service.adapters.stripe.outbound import OutboundLimiter
from payment_service.config import ConfigError, Settings


def is_loopback_url(url: str | None) -> bool:
    """True for http(s)://127.x / [::1] / localhost: never Stripe, always a local fake."""
    if not url:
        return False
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class StripeGatewayConfig:
    api_key: str = field(repr=False)
    api_base: str | None = None  # None: Stripe's own (https://api.stripe.com)
    timeout_s: float = 20.0
    max_network_retries: int = 2
    # Shape calls for localstripe (see compat.py); None: on when api_base is loopback.
    localstripe_compat: bool | None = None
    # Our budget below Stripe's rate limits (outbound.py); None: calls go out unmetered.
    outbound: OutboundLimiter | None = field(default=None, compare=False)
    # Told of every HTTP request (measured_http.py); None: requests go unmeasured.
    observer: StripeRequestObserver | None = field(default=None, compare=False)
    # Client spans per Stripe request (measured_http.py); None: no spans.
    tracer_provider: TracerProvider | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ConfigError("stripe_api_key (PAYMENT_STRIPE_API_KEY): required")
        if self.timeout_s <= 0:
            raise ConfigError("stripe_timeout_s (PAYMENT_STRIPE_TIMEOUT_S): must be positive")
        if self.max_network_retries < 0:
            raise ConfigError("stripe_max_network_retries: must not be negative")

    @property
    def compat(self) -> bool:
        if self.localstripe_compat is not None:
            return self.localstripe_compat
        return is_loopback_url(self.api_base)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        outbound: OutboundLimiter | None = None,
        *,
        observer: StripeRequestObserver | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> StripeGatewayConfig:
        key = settings.stripe_api_key.get_secret_value() if settings.stripe_api_key else ""
        return cls(
            api_key=key,
            api_base=settings.stripe_api_base,
            timeout_s=settings.stripe_timeout_s,
            max_network_retries=settings.stripe_max_network_retries,
            outbound=outbound,
            observer=observer,
            tracer_provider=tracer_provider,
        )
