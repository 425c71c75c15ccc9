"""Wake one idle applier when events were stored (an in-process signal, not a carrier).

``notify`` wakes one waiting applier, or, when none waits, lets the next one that goes
idle pass straight through, so no wake-up is lost and a commit does not send every
applier to the database at once. An applier that claimed a full batch notifies the
next itself. Appliers of other replicas are not woken: they poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque


class Wakeup:
    def __init__(self) -> None:
        self._idle: deque[asyncio.Future[None]] = deque()
        self._missed = False

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
