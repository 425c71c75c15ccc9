"""BackgroundTask: told to stop, a pass ends on its own; a pass still running at the
deadline is cancelled there."""

from __future__ import annotations

import asyncio
import time

from payment_service.bootstrap.app import UNWIND_S, BackgroundTask


async def test_a_task_that_finishes_its_pass_stops_without_cancellation() -> None:
    passes: list[str] = []

    async def run(stopping: asyncio.Event) -> None:
        await stopping.wait()  # the pass in progress ends when told to stop
        passes.append("finished")

    task = BackgroundTask("polite", run)
    await task.start()
    await asyncio.sleep(0.02)
    started = time.monotonic()
    await task.stop(time.monotonic() + 5.0)
    assert time.monotonic() - started < 1.0
    assert passes == ["finished"]


async def test_a_pass_still_running_at_the_deadline_is_cancelled_there() -> None:
    cut: list[bool] = []

    async def run(stopping: asyncio.Event) -> None:
        try:
            await asyncio.sleep(60)  # a Stripe call that never answers
        except asyncio.CancelledError:
            cut.append(True)
            raise

    task = BackgroundTask("busy", run)
    await task.start()
    await asyncio.sleep(0)
    started = time.monotonic()
    await task.stop(started + 0.2)
    elapsed = time.monotonic() - started
    assert cut == [True]
    assert 0.2 - 0.02 <= elapsed < 0.2 + UNWIND_S + 1.0
