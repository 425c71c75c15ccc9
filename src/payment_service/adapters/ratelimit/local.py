"""GCRA (the generic cell rate algorithm) in this process: one theoretical arrival time per
key, so a limit costs one float per active caller and no timer.

A call is let through when, after adding its interval, the theoretical arrival time is no
more than ``burst`` intervals ahead of now; otherwise it may retry when that is true again.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from payment_service.app.ports.rate_limit import ALLOWED, Decision, Limit

MAX_KEYS = 100_000


def gcra(tat_us: int, now_us: int, limit: Limit) -> tuple[Decision, int]:
    """The decision and the new theoretical arrival time (unchanged when refused)."""
    interval = limit.interval_us
    start = max(tat_us, now_us)
    ahead = start + interval - now_us
    tolerance = interval * limit.burst
    if ahead > tolerance:
        return Decision(False, (ahead - tolerance) / 1_000_000), tat_us
    return Decision(True), start + interval


class LocalRateLimiter:
    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._tats: OrderedDict[str, int] = OrderedDict()

    async def take(self, key: str, limit: Limit) -> Decision:
        return self.take_now(key, limit)

    async def take_all(self, takes: Sequence[tuple[str, Limit]]) -> Decision:
        return self.take_all_now(takes)

    def take_now(self, key: str, limit: Limit) -> Decision:
        now_us = int(self._clock() * 1_000_000)
        decision, tat = gcra(self._tats.get(key, now_us), now_us, limit)
        self._keep(key, tat)
        return decision

    def take_all_now(self, takes: Sequence[tuple[str, Limit]]) -> Decision:
        now_us = int(self._clock() * 1_000_000)
        judged = [(key, *gcra(self._tats.get(key, now_us), now_us, limit)) for key, limit in takes]
        waits = [decision.retry_after_s for _, decision, _ in judged if not decision.allowed]
        if waits:
            return Decision(False, max(waits))
        for key, _, tat in judged:
            self._keep(key, tat)
        return ALLOWED

    def _keep(self, key: str, tat: int) -> None:
        self._tats[key] = tat
        self._tats.move_to_end(key)
        while len(self._tats) > self._max_keys:
            self._tats.popitem(last=False)  # the least recently seen key: it is the idlest
