"""Ending a background task: cancelled, then awaited until it has ended."""

from __future__ import annotations

import asyncio
import contextlib


async def cancelled(task: asyncio.Task[object] | None) -> None:
    """Cancel ``task`` (None: there is none) and wait until it has ended."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
