"""The readiness probe: the database decides readiness, Redis only degrades.

Every ``PROBE_INTERVAL_S`` the monitor runs each dependency's cheap check (bounded by
``PROBE_TIMEOUT_S``), concurrently, and publishes the result: the ``dependency_up``
gauge for each, and the health service's readiness (``""`` and every payments.v1
service) from the required ones. An outage is seen within interval + timeout; so is the
recovery. Changes are logged once, not every probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from payment_service.adapters.cache.probe import RedisProbe
from payment_service.adapters.db.probe import DatabaseProbe
from payment_service.api.grpc.health import Health
from payment_service.config import Settings
from payment_service.observability.dependency_metrics import DependencyMetrics

_log = logging.getLogger("payment_service.readiness")

PROBE_INTERVAL_S = 1.0
PROBE_TIMEOUT_S = 1.0


class Probe(Protocol):
    async def check(self) -> bool: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Dependency:
    name: str
    probe: Probe
    required: bool  # readiness follows it; otherwise it only degrades


def dependencies(settings: Settings, *, timeout_s: float = PROBE_TIMEOUT_S) -> list[Dependency]:
    """The database (required) and Redis when configured (not required)."""
    found = [
        Dependency("database", DatabaseProbe(settings.database_url, timeout_s=timeout_s), True)
    ]
    if settings.redis_url is not None:
        redis = RedisProbe(settings.redis_url.get_secret_value(), timeout_s=timeout_s)
        found.append(Dependency("redis", redis, False))
    return found


class ReadinessMonitor:
    def __init__(
        self,
        health: Health,
        watched: Sequence[Dependency],
        metrics: DependencyMetrics,
        *,
        interval_s: float = PROBE_INTERVAL_S,
    ) -> None:
        self._health = health
        self._watched = tuple(watched)
        self._metrics = metrics
        self._interval_s = interval_s
        self._last: dict[str, bool] = {}

    async def run(self, stopping: asyncio.Event) -> None:
        """Probe until ``stopping`` is set (a BackgroundTask's loop)."""
        while not stopping.is_set():
            await self.probe_once()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s):
                    await stopping.wait()

    async def probe_once(self) -> bool:
        """Probe every dependency once and publish; True when ready."""
        results = await asyncio.gather(*(d.probe.check() for d in self._watched))
        for dependency, up in zip(self._watched, results, strict=True):
            self._metrics.probed(dependency.name, up)
            self._log_change(dependency, up)
        ready = all(up for d, up in zip(self._watched, results, strict=True) if d.required)
        await self._health.set_ready(ready)
        self._metrics.ready(self._health.ready)
        return ready

    async def close(self) -> None:
        for dependency in self._watched:
            await dependency.probe.close()

    def _log_change(self, dependency: Dependency, up: bool) -> None:
        before = self._last.get(dependency.name)
        self._last[dependency.name] = up
        if (before is None and up) or before == up:
            return
        effect = "not ready" if dependency.required else "degraded: serving without it"
        if up:
            _log.info("dependency answers again", extra={"dependency": dependency.name})
        else:
            _log.error(f"dependency unreachable; {effect}", extra={"dependency": dependency.name})
