"""Waiting to be woken, with a time limit: the one-future-per-waiter handshake the in-process
wake-ups share (the webhook appliers' ``Wakeup``, the event tail's ``LocalWakeup``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

Waiter = asyncio.Future[None]


async def wait_to_be_woken(
    enlist: Callable[[Waiter], None], delist: Callable[[Waiter], None], timeout_s: float
) -> None:
    """Until the waiter handed to ``enlist`` is ``woken``, or ``timeout_s`` passed (no
    error either way); ``delist`` takes it back out however the wait ends."""
    waiter: Waiter = asyncio.get_running_loop().create_future()
    enlist(waiter)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, timeout_s)
    finally:
        delist(waiter)


def woken(waiter: Waiter) -> bool:
    """Wake ``waiter``; False when it was done already (timed out, cancelled, woken)."""
    if waiter.done():
        return False
    waiter.set_result(None)
    return True
