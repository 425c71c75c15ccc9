"""Wake one idle applier when events were stored (an in-process signal, not a carrier).

``notify`` wakes one waiting applier, or, when none waits, lets the next one that goes
idle pass straight through, so no wake-up is lost and a commit does not send every
applier to the database at once. An applier that claimed a full batch notifies the
next itself. Appliers of other replicas are not woken: they poll. ``stored`` also
counts what was stored, so the appliers know when the ingest is busy (``ingest_busy``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

# The ingest is busy while at least BUSY_EVENTS were stored in the current or the last
# window of BUSY_WINDOW_S (about 150 a second or more; a few deliveries are no load).
BUSY_WINDOW_S = 0.2
BUSY_EVENTS = 30


class Wakeup:
    def __init__(self) -> None:
        self._idle: deque[asyncio.Future[None]] = deque()
        self._missed = False
        self._window_start = float("-inf")
        self._in_window = 0
        self._in_last_window = 0

    def stored(self, events: int = 1) -> None:
        """The endpoint stored ``events``: wake an applier, and count them (``ingest_busy``)."""
        self._roll(time.monotonic())
        self._in_window += events
        self.notify()

    def ingest_busy(self) -> bool:
        """Deliveries arrive at a rate (``BUSY_EVENTS`` a window): the appliers hold back
        (``Retrier``), so on one core the request path goes first."""
        self._roll(time.monotonic())
        return max(self._in_window, self._in_last_window) >= BUSY_EVENTS

    def _roll(self, now: float) -> None:
        passed = now - self._window_start
        if passed < BUSY_WINDOW_S:
            return
        self._in_last_window = self._in_window if passed < 2 * BUSY_WINDOW_S else 0
        self._in_window = 0
        self._window_start = now

    def notify(self) -> None:
        while self._idle:
            waiter = self._idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._missed = True

    def notify_all(self) -> None:
        while self._idle:
            waiter = self._idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
        self._missed = True

    async def wait(self, timeout_s: float) -> None:
        """Until notified, or ``timeout_s`` passed."""
        if self._missed:
            self._missed = False
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._idle.append(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout_s)
        finally:
            with contextlib.suppress(ValueError):
                self._idle.remove(waiter)
