"""Wake one idle applier when events were stored (an in-process signal, not a carrier).

``notify`` wakes one waiting applier, or, when none waits, lets the next one that goes
idle pass straight through, so no wake-up is lost and a commit does not send every
applier to the database at once. An applier that claimed a full batch notifies the
next itself. Appliers of other replicas are not woken: they poll. ``stored`` also
counts what was stored, so the appliers know when the ingest is busy (``ingest_busy``).
"""

from __future__ import annotations

import contextlib
import time
from collections import deque

from payment_service.app.common.waiters import Waiter, wait_to_be_woken, woken

# The ingest is busy while at least BUSY_EVENTS were stored in the current or the last
# window of BUSY_WINDOW_S (about 150 a second or more; a few deliveries are no load).
BUSY_WINDOW_S = 0.2
BUSY_EVENTS = 30


class Wakeup:
    def __init__(self) -> None:
        self._idle: deque[Waiter] = deque()
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
        self._wake(everyone=False)

    def notify_all(self) -> None:
        self._wake(everyone=True)

    def _wake(self, *, everyone: bool) -> None:
        """Wake the first idle applier (``everyone``: all of them); with none left to wake,
        the next one to go idle passes straight through."""
        while self._idle:
            if woken(self._idle.popleft()) and not everyone:
                return
        self._missed = True

    async def wait(self, timeout_s: float) -> None:
        """Until notified, or ``timeout_s`` passed."""
        if self._missed:
            self._missed = False
            return
        await wait_to_be_woken(self._idle.append, self._forget, timeout_s)

    def _forget(self, waiter: Waiter) -> None:
        with contextlib.suppress(ValueError):  # already taken by a notify
            self._idle.remove(waiter)
