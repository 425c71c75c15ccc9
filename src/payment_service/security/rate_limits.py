"""Which limit a call counts against: per caller (the token's ``sub``) and method class
(reads, writes, refunds), or per peer address for calls without a valid token.

The class comes from the scope table: ``refunds:write`` methods are refunds, other
``*:write`` methods are writes, the rest reads. Over the limit the call is refused with
RESOURCE_EXHAUSTED (RetryInfo, and QuotaFailure naming the limit) before any database or
Stripe work; the rejection is counted per limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from payment_service.app.ports.rate_limit import Limit, RateLimiter
from payment_service.config import RateSetting, Settings
from payment_service.domain.errors import ResourceExhausted
from payment_service.security.scopes import REFUNDS_WRITE, SCOPE_BY_METHOD

READS, WRITES, REFUNDS, UNAUTHENTICATED = "reads", "writes", "refunds", "unauthenticated"


class RateLimited(ResourceExhausted):
    def __init__(self, limit: Limit, subject: str, retry_after_s: float) -> None:
        super().__init__(
            f"rate limit {limit.name} ({limit.per_s:g}/s, burst {limit.burst}) reached; "
            f"retry in {retry_after_s:.2f}s",
            retry_after_seconds=retry_after_s,
        )
        self.metadata["limit"] = limit.name
        self.metadata["quota_subject"] = subject
        self.limit = limit
        self.subject = subject  # what QuotaFailure names: "caller:svc-orders", "peer:10.0.0.7"


@dataclass(frozen=True, slots=True)
class RateLimits:
    reads: Limit
    writes: Limit
    refunds: Limit
    unauthenticated: Limit

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        def limit(name: str, setting: RateSetting) -> Limit:
            return Limit(name, setting.per_s, setting.burst)

        return cls(
            limit(READS, settings.rate_limit_reads),
            limit(WRITES, settings.rate_limit_writes),
            limit(REFUNDS, settings.rate_limit_refunds),
            limit(UNAUTHENTICATED, settings.rate_limit_unauthenticated),
        )

    def for_method(self, method: str) -> Limit:
        scope = SCOPE_BY_METHOD.get(method, "")
        if scope == REFUNDS_WRITE:
            return self.refunds
        return self.writes if scope.endswith(":write") else self.reads


def peer_address(peer: str) -> str:
    """``ipv4:10.0.0.7:51234`` → ``10.0.0.7``; ``ipv6:[::1]:5`` → ``::1``; else as given."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    if kind == "ipv6" and rest.startswith("["):
        return rest[1:].partition("]")[0]
    return peer[:255]


@dataclass
class RateLimitPolicy:
    limiter: RateLimiter
    limits: RateLimits
    on_rejected: Callable[[str], None] = lambda limit_name: None

    async def check_caller(self, sub: str, method: str) -> None:
        limit = self.limits.for_method(method)
        await self._take(f"{limit.name}:{sub}", limit, f"caller:{sub}")

    async def check_peer(self, peer: str) -> None:
        """For calls without a valid token (checked before the token is refused)."""
        address = peer_address(peer)
        await self._take(f"peer:{address}", self.limits.unauthenticated, f"peer:{address}")

    async def _take(self, key: str, limit: Limit, subject: str) -> None:
        decision = await self.limiter.take(key, limit)
        if not decision.allowed:
            self.on_rejected(limit.name)
            raise RateLimited(limit, subject, decision.retry_after_s)
