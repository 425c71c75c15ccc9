"""One crash case: the write, how the object reaches the asked state without our answer,
and what must hold afterwards; and the run every case goes through."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
import grpc.aio
import pytest
from google.protobuf.message import Message

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from tests.e2e.crash.support import CrashAt, World, comparable
from tests.support.localstripe import LocalStripe


class Retry(enum.Enum):
    """When the caller retries after the restart."""

    AT_ONCE = "at_once"  # Stripe is called again with the same idempotency key
    AFTER_ARRIVAL = "after_arrival"  # a refresh, the reconciler or a webhook got there first


@dataclass(frozen=True)
class Write:
    """One prepared write, the same request every time it is sent."""

    send: Callable[[], Awaitable[Message]]
    # The object gets where the write wanted it without the write's answer.
    arrive: Callable[[], Awaitable[None]]
    # The answer is the asked success, one Stripe object holds it, our rows equal Stripe's.
    check: Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    name: str
    failpoint: str
    prepare: Callable[[World], Awaitable[Write]]
    # The retries that send the crashed call's POST to Stripe again (same key, replayed):
    # a command retried at once; not one that finds its object got there meanwhile.
    resends: frozenset[Retry] = frozenset({Retry.AT_ONCE})


async def run_case(
    case: Case,
    retry: Retry,
    database_url: str,
    uow_factory: SqlUnitOfWorkFactory,
    localstripe: LocalStripe,
) -> None:
    world = World(database_url, uow_factory, localstripe, CrashAt(case.failpoint))
    await world.start()
    try:
        write = await case.prepare(world)
        world.crash.armed = True
        mark = await world.stripe_mark()
        with pytest.raises(grpc.aio.AioRpcError) as crashed:
            await write.send()
        assert crashed.value.code() is grpc.StatusCode.INTERNAL, crashed.value.details()
        assert world.crash.crashes == 1, f"{case.failpoint} was never reached"
        sent = {r["key"] for r in await world.stripe_posts_since(mark)}
        await world.restart()
        if retry is Retry.AFTER_ARRIVAL:
            await write.arrive()
        mark = await world.stripe_mark()
        answer = await write.send()
        # What the retry asks Stripe again it asks with the crashed call's keys, and Stripe
        # answers as it did the first time (the work after the crash point goes on anew).
        asked_again = [r for r in await world.stripe_posts_since(mark) if r["key"] in sent]
        assert all(r["replayed"] == "true" for r in asked_again), asked_again
        assert bool(asked_again) == (retry in case.resends), (sent, asked_again)
        again = await write.send()
        assert again == answer, f"answered now, then otherwise:\n{answer}\n{again}"
        await write.check(answer)
        # The same write on another object, without a crash, answers the same.
        control = await case.prepare(world)
        retried, uncrashed = comparable(answer), comparable(await control.send())
        assert retried == uncrashed, f"retried:\n{retried}\nwithout a crash:\n{uncrashed}"
    finally:
        await world.stop()
