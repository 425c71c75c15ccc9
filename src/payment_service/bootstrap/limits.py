"""The rate limiter (one per process, in Redis when configured so replicas share it), the
inbound policy and Stripe's outbound budget over it, and the JWKS key set (a component
itself: ``start`` fetches, ``stop`` ends its refresh), built from the settings."""

from __future__ import annotations

from payment_service.adapters.ratelimit.local import LocalRateLimiter
from payment_service.adapters.ratelimit.redis import RedisRateLimiter
from payment_service.adapters.stripe.outbound import OutboundLimiter, OutboundLimits
from payment_service.app.ports.rate_limit import Limit, RateLimiter
from payment_service.config import RateSetting, Settings
from payment_service.observability.metrics import RpcMetrics
from payment_service.security.jwks import JwksConfig, JwksKeys
from payment_service.security.rate_limits import RateLimitPolicy, RateLimits


def build_rate_limiter(settings: Settings) -> tuple[RateLimiter, RedisRateLimiter | None]:
    """The limiter, and the Redis one again when it is that (it has a client to close)."""
    if settings.redis_url is None:
        return LocalRateLimiter(), None
    limiter = RedisRateLimiter.from_url(settings.redis_url.get_secret_value())
    return limiter, limiter


def _limit(name: str, setting: RateSetting) -> Limit:
    return Limit(name, setting.per_s, setting.burst)


def outbound_limiter(settings: Settings, limiter: RateLimiter) -> OutboundLimiter | None:
    if not settings.stripe_rate_limit_enabled:
        return None
    limits = OutboundLimits(
        account=_limit("stripe", settings.stripe_rate_limit),
        endpoint=_limit("stripe_endpoint", settings.stripe_endpoint_rate_limit),
    )
    return OutboundLimiter(limiter, limits)


def rate_limit_policy(
    settings: Settings, limiter: RateLimiter, metrics: RpcMetrics
) -> RateLimitPolicy | None:
    if not settings.rate_limit_enabled:
        return None
    return RateLimitPolicy(limiter, RateLimits.from_settings(settings), metrics.rate_limited)


def jwks_keys(settings: Settings) -> JwksKeys | None:
    if settings.auth_jwks_url is None:
        return None
    return JwksKeys(
        JwksConfig(
            url=settings.auth_jwks_url,
            refresh_s=settings.auth_jwks_refresh_s,
            unknown_kid_interval_s=settings.auth_jwks_unknown_kid_interval_s,
            timeout_s=settings.auth_jwks_timeout_s,
            key_lifespan_s=settings.auth_jwks_key_lifespan_s,
        )
    )
