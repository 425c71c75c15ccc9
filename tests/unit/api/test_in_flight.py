"""The interceptor's work tasks: answered in time or UNAVAILABLE while the work goes on,
cancelled with their caller, settled by shutdown within its time."""

from __future__ import annotations

import asyncio
import contextvars
import time

import pytest

from payment_service.api.grpc.in_flight import OUTCOME_PENDING, InFlightCalls, answer_within
from payment_service.domain.errors import Unavailable


async def _done_after(seconds: float, value: str = "done") -> str:
    await asyncio.sleep(seconds)
    return value


async def test_work_done_in_time_is_the_answer() -> None:
    calls = InFlightCalls()
    assert await answer_within(calls.start(_done_after(0.0)), 1.0, "M") == "done"
    assert len(calls) == 0


async def test_work_not_done_in_time_is_unavailable_and_goes_on_to_its_end() -> None:
    calls = InFlightCalls()
    work = calls.start(_done_after(0.2))
    started = time.monotonic()
    with pytest.raises(Unavailable) as raised:
        await answer_within(work, 0.05, "M")
    assert time.monotonic() - started < 0.2
    assert raised.value.reason == OUTCOME_PENDING
    assert raised.value.retry_after_seconds > 0
    assert len(calls) == 1
    assert await work == "done"
    assert len(calls) == 0


async def test_the_caller_going_away_cancels_the_work() -> None:
    calls = InFlightCalls()
    work = calls.start(_done_after(10.0))
    waiting = asyncio.ensure_future(answer_within(work, None, "M"))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    with pytest.raises(asyncio.CancelledError):
        await work


async def _ignores_one_cancel(release: asyncio.Event) -> None:
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        await release.wait()  # unwinds slowly (a stuck rollback)
        raise


async def test_settle_waits_for_work_then_cancels_what_is_left_within_its_time() -> None:
    calls = InFlightCalls()
    quick = calls.start(_done_after(0.05))
    stuck = calls.start(_done_after(10.0))
    release = asyncio.Event()
    slow_to_unwind = calls.start(_ignores_one_cancel(release))
    started = time.monotonic()
    left = await calls.settle(0.2, 0.1)
    assert 0.3 - 0.02 <= time.monotonic() - started < 2.0
    assert left == 1
    assert await quick == "done"
    assert stuck.cancelled()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await slow_to_unwind
    assert await calls.settle(0.0, 0.0) == 0


async def test_settle_lets_the_cleanup_a_first_cancellation_started_finish() -> None:
    calls = InFlightCalls()
    cleaned: list[bool] = []

    async def give_the_lease_back() -> None:
        await asyncio.sleep(0.05)
        cleaned.append(True)

    async def stalled_call() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.shield(give_the_lease_back())
            raise

    work = calls.start(stalled_call())
    await asyncio.sleep(0)
    work.cancel()  # the caller went away, or gRPC cut the call at the end of the grace
    assert await calls.settle(0.0, 1.0) == 0
    assert cleaned == [True]


_seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="unset")


async def _reads_context(waits: float | None) -> str:
    if waits is not None:
        await asyncio.sleep(waits)
    return _seen.get()


def _bound(value: str) -> contextvars.Context:
    token = _seen.set(value)
    try:
        return contextvars.copy_context()
    finally:
        _seen.reset(token)


async def test_work_that_never_waits_is_answered_without_a_task_in_its_context() -> None:
    calls = InFlightCalls()
    assert await calls.answer(_reads_context(None), _bound("call"), 1.0, "M") == "call"
    assert _seen.get() == "unset"  # the caller's own context is untouched
    assert len(calls) == 0


async def test_work_that_waits_goes_on_in_a_counted_task_in_its_context() -> None:
    calls = InFlightCalls()
    answer = asyncio.ensure_future(calls.answer(_reads_context(0.05), _bound("call"), 1.0, "M"))
    await asyncio.sleep(0.01)
    assert len(calls) == 1
    assert await answer == "call"
    assert len(calls) == 0


async def test_an_error_of_work_that_never_waits_is_raised_to_the_caller() -> None:
    async def fails() -> None:
        raise Unavailable("no", reason="X")

    with pytest.raises(Unavailable):
        await InFlightCalls().answer(fails(), contextvars.copy_context(), None, "M")


async def test_work_that_waits_still_answers_unavailable_when_late_and_is_cancelled_with_its_caller() -> (
    None
):
    calls = InFlightCalls()
    with pytest.raises(Unavailable):
        await calls.answer(_done_after(0.2), contextvars.copy_context(), 0.02, "M")
    assert len(calls) == 1  # goes on
    cancelled = asyncio.Event()

    async def waits_long() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    answer = asyncio.ensure_future(
        calls.answer(waits_long(), contextvars.copy_context(), None, "M")
    )
    await asyncio.sleep(0.01)
    answer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await answer
    await asyncio.wait_for(cancelled.wait(), 1.0)
