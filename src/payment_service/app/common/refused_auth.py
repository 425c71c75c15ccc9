"""Refused authentications in the audit trail, one row per peer and reason per window.

A refused call (no token, a bad or expired one, a missing scope) costs the caller's
path one dictionary update (``note``); a background task writes what a window gathered
as one row per (peer address, reason): how many, first and last time, a few of the
methods asked for and of the subjects named. A flood from one address is one row a
window; a flood from many addresses is at most ``max_peers`` rows a window, the rest
counted together under peer ``*``. A window that cannot be written (the database away)
is kept and merged into the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from payment_service.app.common.audit import audit_entry
from payment_service.app.common.audit_context import RpcFacts
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.clock import utcnow

log = logging.getLogger(__name__)

ACTION = "auth.refused"
ANONYMOUS = "anonymous"  # no valid token: no subject to name
SEVERAL = "several"  # tokens of several subjects (named in the row's detail)
OTHER_PEERS = "*"
_SAMPLES = 5  # methods and subjects kept per row


@dataclass(slots=True)
class _Window:
    """What one (peer, reason) did in the window being gathered."""

    first: datetime
    last: datetime
    count: int = 0
    methods: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    certificate: str | None = None

    def add(self, when: datetime, method: str, sub: str | None) -> None:
        self.count += 1
        self.last = when
        _sample(self.methods, method)
        if sub:
            _sample(self.subjects, sub)

    def merge(self, older: _Window) -> None:
        self.count += older.count
        self.first = min(self.first, older.first)
        for method in older.methods:
            _sample(self.methods, method)
        for sub in older.subjects:
            _sample(self.subjects, sub)
        self.certificate = self.certificate or older.certificate

    @property
    def actor(self) -> str:
        if not self.subjects:
            return ANONYMOUS
        return self.subjects[0] if len(self.subjects) == 1 else SEVERAL


def _sample(samples: list[str], value: str) -> None:
    if value not in samples and len(samples) < _SAMPLES:
        samples.append(value)


class RefusedAuthentications:
    def __init__(self, uow_factory: UnitOfWorkFactory, *, max_peers: int = 1000) -> None:
        self._uow_factory = uow_factory
        self._max_peers = max_peers
        self._windows: dict[tuple[str, str], _Window] = {}

    def note(
        self,
        peer: str,
        reason: str,
        method: str,
        sub: str | None = None,
        certificate: Callable[[], str | None] = lambda: None,
    ) -> None:
        """Count one refused call from ``peer`` (an address, without the port).

        ``certificate`` is read only for the first refusal of a window, so a flood costs
        no certificate parsing."""
        key = (peer, reason)
        window = self._windows.get(key)
        now = utcnow()
        if window is None:
            if len(self._windows) >= self._max_peers:
                key = (OTHER_PEERS, reason)
                window = self._windows.get(key)
            if window is None:
                window = _Window(first=now, last=now)
                if key[0] != OTHER_PEERS:
                    window.certificate = certificate()
                self._windows[key] = window
        window.add(now, method, sub)

    @property
    def pending(self) -> int:
        """Refused calls noted and not yet written."""
        return sum(window.count for window in self._windows.values())

    async def flush(self) -> int:
        """Write the window gathered so far; the number of rows written."""
        windows, self._windows = self._windows, {}
        if not windows:
            return 0
        try:
            async with self._uow_factory() as uow:
                for (peer, reason), window in windows.items():
                    await _audit_window(uow, peer, reason, window)
                await uow.commit()
        except Exception:
            log.warning("refused authentications not written; kept for the next window")
            self._keep(windows)
            raise
        return len(windows)

    def _keep(self, unwritten: dict[tuple[str, str], _Window]) -> None:
        for key, window in unwritten.items():
            newer = self._windows.get(key)
            if newer is None:
                self._windows[key] = window
            else:
                newer.merge(window)

    async def run_forever(self, interval_s: float, stopping: asyncio.Event) -> None:
        """Write a window every ``interval_s`` and a last one once ``stopping`` is set."""
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval_s)
            with contextlib.suppress(Exception):
                await self.flush()


async def _audit_window(uow: UnitOfWork, peer: str, reason: str, window: _Window) -> None:
    await uow.audit.add(
        audit_entry(
            window.actor,
            ACTION,
            ("peer", peer),
            reason,
            {
                "count": str(window.count),
                "first": window.first.isoformat(),
                "last": window.last.isoformat(),
                "methods": ",".join(window.methods),
                "subjects": ",".join(window.subjects),
            },
            facts=RpcFacts(peer=peer, certificate=window.certificate),
        )
    )
