"""Rate limits: a limit is a rate with a burst; a limiter says whether one more call fits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Limit:
    name: str  # "writes", as metrics and QuotaFailure name it
    per_s: float
    burst: int

    @property
    def interval_us(self) -> int:
        """The time one call uses up (GCRA's emission interval), in microseconds."""
        return max(1, round(1_000_000 / self.per_s))


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_s: float = 0.0


ALLOWED = Decision(True)


class RateLimiter(Protocol):
    async def take(self, key: str, limit: Limit) -> Decision:
        """Count one call against ``key`` under ``limit``."""

    async def take_all(self, takes: Sequence[tuple[str, Limit]]) -> Decision:
        """Count one call against every ``(key, limit)`` at once, or against none: refused
        while any of them is full (retry after the longest of their waits)."""
