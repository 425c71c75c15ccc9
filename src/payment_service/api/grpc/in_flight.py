"""The work of every intercepted call, each in a task of its own, and its answer in time.

A unary call is answered before the caller's deadline even when its work is not done:
the Stripe call is cut at the work deadline (app/common/request_context.py), but what
follows it (giving the Stripe-call lease back, on a busy database) may still run late.
Then the caller gets UNAVAILABLE with RetryInfo, meaning "the outcome is not known yet;
retry with the same request_id", and the work goes on to its end, so the retry finds
what it left (a settled row, or a PENDING one free for the retry to take).

Shutdown sees all the work still running, also that of calls already answered or ended
by gRPC's grace: it gives it until the end of the grace, then cancels what is left.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import types
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

import grpc.aio

from payment_service.domain.errors import DomainError, Unavailable

T = TypeVar("T")

# ErrorInfo.reason of the UNAVAILABLE sent when the work outlasts the time for the answer.
OUTCOME_PENDING = "OUTCOME_PENDING"
RETRY_AFTER_S = 1.0

_log = logging.getLogger(__name__)


class InFlightCalls:
    """The tasks doing the work of intercepted calls right now."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run ``work`` in a task of its own (it copies the caller's context), counted in
        until it ends."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def answer(
        self,
        work: Coroutine[Any, Any, T],
        context: contextvars.Context,
        seconds: float | None,
        method: str,
    ) -> T:
        """``work`` run in ``context`` until it first waits: done by then (a cached read),
        its value with no task at all; else the rest runs in a task of its own, counted
        in, and is answered as ``answer_within`` answers."""
        try:
            waits_on = context.run(work.send, None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        task = asyncio.get_running_loop().create_task(_resumed(work, waits_on), context=context)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await answer_within(task, seconds, method)

    async def settle(self, timeout_s: float, unwind_s: float) -> int:
        """Wait up to ``timeout_s`` for the work still running, then cancel what is left
        and give it ``unwind_s`` to unwind (roll back, give its Stripe-call lease back);
        how many tasks had not ended then."""
        running = set(self._tasks)
        if not running:
            return 0
        _, pending = await asyncio.wait(running, timeout=timeout_s)
        if not pending:
            return 0
        for task in pending:
            _cancel_once(task)
        _, pending = await asyncio.wait(pending, timeout=unwind_s)
        return len(pending)


async def _resumed(work: Coroutine[Any, Any, T], waits_on: Any) -> T:
    """The rest of ``work``, whose first step (ending in ``waits_on``) already ran."""
    return await _continue(work, waits_on)


@types.coroutine
def _continue(work: Coroutine[Any, Any, T], waits_on: Any) -> Generator[Any, Any, T]:
    """Hand what ``work`` waits on to the task running this, and the outcome back, until
    ``work`` returns (what ``await`` does, from a step already taken)."""
    while True:
        try:
            sent = yield waits_on
        except GeneratorExit:
            work.close()
            raise
        except BaseException as thrown:  # a cancellation, or the awaited future's error
            try:
                waits_on = work.throw(thrown)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
        else:
            try:
                waits_on = work.send(sent)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]


async def answer_within(work: asyncio.Task[T], seconds: float | None, method: str) -> T:
    """``work``'s result, or, when it is not ready within ``seconds`` (None: no limit),
    Unavailable while the work goes on. The caller going away cancels the work."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake(_: object = None) -> None:
        if not ready.done():
            ready.set_result(None)

    work.add_done_callback(wake)
    timer = loop.call_later(seconds, wake) if seconds is not None else None
    try:
        await ready
    except asyncio.CancelledError:
        work.remove_done_callback(wake)
        _cancel_once(work)
        raise
    finally:
        if timer is not None:
            timer.cancel()
    if work.done():
        return work.result()
    work.remove_done_callback(wake)
    work.add_done_callback(functools.partial(_report_late_outcome, method))
    raise Unavailable(
        "the outcome is not known yet and the work goes on; retry with the same request_id",
        reason=OUTCOME_PENDING,
        retry_after_seconds=RETRY_AFTER_S,
    )


def _cancel_once(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` unless it is being cancelled already (its caller went away, or gRPC
    cut the call at the end of the grace): a second cancellation would cut the cleanup the
    first one started (a shielded Stripe-call lease release) and leave it unfinished."""
    if not task.cancelling():
        task.cancel()


def _report_late_outcome(method: str, work: asyncio.Task[Any]) -> None:
    """How the work of a call answered UNAVAILABLE ended, for the log."""
    if work.cancelled():
        outcome = "CANCELLED"
    else:
        error = work.exception()
        if error is not None and not isinstance(error, DomainError | grpc.aio.AbortError):
            _log.error(
                "unhandled error in %s after its answer",
                method,
                exc_info=error,
                extra={"method": method},
            )
            return
        outcome = "OK" if error is None else getattr(error, "reason", type(error).__name__)
    _log.info("work went on past its answer", extra={"method": method, "outcome": outcome})
