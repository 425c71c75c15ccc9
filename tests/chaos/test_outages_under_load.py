"""A dependency goes away under a steady load, and comes back: the service recovers by itself.

The real server (a subprocess) runs on a private PostgreSQL and a private Redis. Eight
clients keep creating card payments (confirm=true, each with its own request_id) and
reading them back. Mid-load the test stops PostgreSQL (an immediate shutdown, as a crash
would) or Redis for a few seconds, then starts it again. Afterwards:

- no answer was anything but OK or, while PostgreSQL was away, UNAVAILABLE (no INTERNAL,
  no UNKNOWN); with Redis away nothing failed at all (the cache is only a cache);
- creates succeed again within RECOVERY_BOUND_S of the dependency being back, and every
  call started after that succeeds;
- every acknowledged CreatePayment is in the database (read directly) with the state and
  amount it answered, and every read answered what had been acknowledged;
- once every unacknowledged request is retried with its request_id, each request_id has
  exactly one payment row and exactly one PaymentIntent at Stripe.

The gRPC health check of "liveness" says the process is alive (SERVING from start to shutdown,
api/grpc/health.py; readiness, "", follows the database): it must stay SERVING and
answering throughout.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc

from tests.chaos.support import (
    CALL_TIMEOUT_S,
    FAST_RECONNECT,
    METADATA,
    Ledger,
    alongside,
    chaos_env,
    duplicates,
    intents_by_request,
    keep_server_log,
    new_request_id,
    payment_rows,
    rows_by_request,
    state_name,
    until_answered,
    wait_until,
)
from tests.support.localstripe import LocalStripe
from tests.support.postgres_server import PrivatePostgres
from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(180)]

CLIENTS = 8
WARMUP_CREATES = 3 * CLIENTS  # acknowledged before the outage starts
OUTAGE_MIN_S = 4.0
RECOVERY_BOUND_S = 15.0  # creates succeed again this soon after the dependency is back
CREATES_AFTER_RECOVERY = 4 * CLIENTS  # the load goes on this long once recovered
FAILED_CALL_BACKOFF_S = 0.2
RETRY_WITHIN_S = 60.0  # a retried request may wait out a Stripe-call lease (~10 s)


@dataclass
class Outage:
    name: str
    stop: Callable[[], None]
    start: Callable[[], None]
    allowed: frozenset[grpc.StatusCode]  # what a call may answer besides OK
    met: Callable[[Ledger, float], bool]  # the load has met the outage since the given time


@dataclass
class Timeline:
    down_at: float = 0.0
    up_at: float = 0.0
    recovered_at: float = 0.0
    load_ended_at: float = 0.0  # then the unacknowledged requests are retried


@dataclass
class Client:
    run_id: str
    account_id: str
    payment_method: str
    rng: random.Random

    def next_request(self) -> pb.CreatePaymentRequest:
        request_id = new_request_id(self.run_id, "pay")
        return pb.CreatePaymentRequest(
            request_id=request_id,
            account_id=self.account_id,
            amount=self.rng.randint(100, 99_999),
            currency_code="usd",
            stripe_payment_method_id=self.payment_method,
            confirm=True,
            metadata={"chaos_run": self.run_id, "request_id": request_id},
        )


@dataclass
class Run:
    ledger: Ledger = field(default_factory=Ledger)
    timeline: Timeline = field(default_factory=Timeline)
    health: list[str] = field(default_factory=list)
    wrong_reads: list[str] = field(default_factory=list)
    acknowledged_under_load: int = 0
    # Of the requests the load did not get acknowledged: rows already there before they
    # were retried (committed, answer lost), and of those the ones still PENDING.
    left_rows: int = 0
    left_pending: int = 0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


async def _read_back(
    stub: payment_service_pb2_grpc.PaymentServiceAsyncStub, run: Run, rng: random.Random
) -> None:
    """GetPayment of a payment acknowledged earlier: it must answer what was acknowledged."""
    acknowledged = run.ledger.acknowledged
    request_id = rng.choice(list(acknowledged))
    answer = acknowledged[request_id]
    got = await run.ledger.call(
        "GetPayment",
        request_id,
        functools.partial(
            stub.GetPayment,
            pb.GetPaymentRequest(id=answer.id),
            metadata=METADATA,
            timeout=CALL_TIMEOUT_S,
        ),
    )
    if got is not None and (got.payment.state, got.payment.amount) != (answer.state, answer.amount):
        run.wrong_reads.append(f"{answer.id}: read {got.payment}, acknowledged {answer}")


async def _pay_and_read(
    stub: payment_service_pb2_grpc.PaymentServiceAsyncStub, run: Run, client: Client
) -> None:
    while not run.stopping.is_set():
        request = client.next_request()
        run.ledger.requests[request.request_id] = request
        created = await run.ledger.call(
            "CreatePayment",
            request.request_id,
            functools.partial(
                stub.CreatePayment, request, metadata=METADATA, timeout=CALL_TIMEOUT_S
            ),
        )
        if created is not None:
            run.ledger.acknowledged[request.request_id] = created.payment
        if run.ledger.acknowledged:
            await _read_back(stub, run, client.rng)
        if created is None:
            await asyncio.sleep(FAILED_CALL_BACKOFF_S)


async def _watch_health(channel: grpc.aio.Channel, run: Run) -> None:
    stub: Any = health_pb2_grpc.HealthStub(channel)  # its stubs type no methods
    while not run.stopping.is_set():
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service="liveness"), timeout=2)
            run.health.append(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
        except grpc.aio.AioRpcError as error:
            run.health.append(f"error {error.code().name}")
        await asyncio.sleep(0.25)


async def _outage_under_load(run: Run, outage: Outage) -> None:
    ledger, timeline = run.ledger, run.timeline
    await wait_until(
        lambda: len(ledger.acknowledged) >= WARMUP_CREATES,
        within_s=60,
        what="acknowledged creates before the outage",
    )
    timeline.down_at = time.monotonic()
    await asyncio.to_thread(outage.stop)
    await wait_until(
        lambda: (
            time.monotonic() - timeline.down_at >= OUTAGE_MIN_S
            and outage.met(ledger, timeline.down_at)
        ),
        within_s=30,
        what=f"the load to meet the {outage.name} outage",
    )
    await asyncio.to_thread(outage.start)
    timeline.up_at = time.monotonic()
    timeline.recovered_at = await wait_until(
        lambda: len(ledger.ok("CreatePayment", started_after=timeline.up_at)) >= CLIENTS,
        within_s=RECOVERY_BOUND_S,
        what=f"creates to succeed again after {outage.name} came back",
    )
    await wait_until(
        lambda: (
            len(ledger.ok("CreatePayment", started_after=timeline.recovered_at))
            >= CREATES_AFTER_RECOVERY
        ),
        within_s=60,
        what="the load to go on after the recovery",
    )


async def _retry_unacknowledged(
    stub: payment_service_pb2_grpc.PaymentServiceAsyncStub, ledger: Ledger
) -> int:
    """Each request that never got OK, again with its request_id, until it answers."""
    missing = [r for rid, r in ledger.requests.items() if rid not in ledger.acknowledged]
    gate = asyncio.Semaphore(CLIENTS)

    async def retry(request: pb.CreatePaymentRequest) -> None:
        async with gate:
            created = await until_answered(
                ledger,
                "CreatePayment",
                request.request_id,
                functools.partial(
                    stub.CreatePayment, request, metadata=METADATA, timeout=CALL_TIMEOUT_S
                ),
                within_s=RETRY_WITHIN_S,
                backoff_s=0.5,
            )
        if created is not None:
            ledger.acknowledged[request.request_id] = created.payment

    await asyncio.gather(*(retry(request) for request in missing))
    return len(missing)


async def _drive(
    server: ServerProcess, outage: Outage, clients: list[Client], postgres: PrivatePostgres
) -> tuple[Run, int]:
    run = Run()
    async with grpc.aio.insecure_channel(server.grpc_target, options=FAST_RECONNECT) as channel:
        stub: payment_service_pb2_grpc.PaymentServiceAsyncStub
        stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
        tasks = [asyncio.create_task(_pay_and_read(stub, run, c)) for c in clients]
        tasks.append(asyncio.create_task(_watch_health(channel, run)))
        try:
            await alongside(_outage_under_load(run, outage), tasks)
        finally:
            run.stopping.set()
            await asyncio.gather(*tasks)
        run.timeline.load_ended_at = time.monotonic()
        run.acknowledged_under_load = len(run.ledger.acknowledged)
        before = rows_by_request(await payment_rows(postgres.conninfo))
        left = [
            row
            for request_id in run.ledger.requests
            if request_id not in run.ledger.acknowledged
            for row in before.get(request_id, [])
        ]
        run.left_rows, run.left_pending = len(left), sum(r.state == "pending" for r in left)
        retried = await _retry_unacknowledged(stub, run.ledger)
    return run, retried


async def _clients(localstripe: LocalStripe, run_id: str) -> list[Client]:
    rng = random.Random(run_id)
    return [
        Client(
            run_id,
            f"acct_{uuid.uuid4().hex[:12]}",
            await localstripe.create_card_payment_method(),
            random.Random(rng.random()),
        )
        for _ in range(CLIENTS)
    ]


def _check_answers(run: Run, outage: Outage) -> None:
    ledger, timeline = run.ledger, run.timeline
    wrong = ledger.wrong_answers(outage.allowed)
    assert not wrong, f"{len(wrong)} wrong answers, e.g.:\n" + "\n".join(map(str, wrong[:10]))
    before = ledger.failed(ended_before=timeline.down_at)
    assert not before, "failures before the outage:\n" + "\n".join(map(str, before[:10]))
    # The load's own calls after the recovery all succeed (the retries after the load
    # may have to wait out the lease of a request the outage cut short).
    after = ledger.failed(
        started_after=timeline.recovered_at, started_before=timeline.load_ended_at
    )
    assert not after, "failures after the recovery:\n" + "\n".join(map(str, after[:10]))
    assert not run.wrong_reads, "\n".join(run.wrong_reads[:10])
    assert run.health, "the health check was never answered"
    assert set(run.health) == {"SERVING"}, run.health


async def _check_storage(
    run: Run, postgres: PrivatePostgres, localstripe: LocalStripe, run_id: str
) -> None:
    ledger = run.ledger
    rows = rows_by_request(await payment_rows(postgres.conninfo))
    lost = []
    for request_id, answer in ledger.acknowledged.items():
        stored = [(r.id, r.state, r.amount) for r in rows.get(request_id, [])]
        if stored != [(answer.id, state_name(answer.state), answer.amount)]:
            lost.append(
                f"{request_id}: answered {answer.id} {state_name(answer.state)}, stored {stored}"
            )
    assert not lost, f"{len(lost)} acknowledged writes not stored as answered:\n" + "\n".join(
        lost[:10]
    )
    assert len(ledger.acknowledged) == len(ledger.requests)
    assert set(rows) == set(ledger.requests), "rows for requests never sent"
    intents = await intents_by_request(localstripe, run_id)
    problems = duplicates(ledger.requests, rows, intents)
    assert not problems, f"{len(problems)} request_ids:\n" + "\n".join(problems[:10])


def _summary(outage: Outage, run: Run, retried: int) -> str:
    t = run.timeline
    return (
        f"chaos {outage.name}: down {t.up_at - t.down_at:.1f}s, creates OK again "
        f"{t.recovered_at - t.up_at:.1f}s after it was back; acknowledged under load "
        f"{run.acknowledged_under_load}, retried afterwards {retried} (of which rows already "
        f"stored: {run.left_rows}, {run.left_pending} of them PENDING; calls made again with "
        f"the same request_id: {run.ledger.retries()}); answers {dict(run.ledger.codes())}; "
        f"health {sorted(set(run.health))}"
    )


async def _outage_test(
    outage: Outage, env: dict[str, str], postgres: PrivatePostgres, localstripe: LocalStripe
) -> None:
    run_id = new_request_id(f"chaos-{outage.name}", "run")
    clients = await _clients(localstripe, run_id)
    with ServerProcess.start(env) as server:
        try:
            run, retried = await _drive(server, outage, clients, postgres)
            print("\n" + _summary(outage, run, retried))
            # What was stored first: it matters most, and holds even when an answer was wrong.
            await _check_storage(run, postgres, localstripe, run_id)
            _check_answers(run, outage)
        except BaseException:
            print(keep_server_log(server.output(), run_id))
            print("--- postgres log ---\n" + postgres.log_tail())
            raise


async def test_postgres_outage_under_load(
    private_postgres: PrivatePostgres,
    private_redis: RedisServer,
    private_localstripe: LocalStripe,
) -> None:
    outage = Outage(
        "postgresql",
        stop=lambda: private_postgres.stop("immediate"),
        start=private_postgres.start,
        allowed=frozenset({grpc.StatusCode.UNAVAILABLE}),
        # As many calls refused since PostgreSQL went away as there are clients.
        met=lambda ledger, since: len(ledger.failed(started_after=since)) >= CLIENTS,
    )
    env = chaos_env(private_postgres.url, private_localstripe, redis_url=private_redis.url)
    await _outage_test(outage, env, private_postgres, private_localstripe)


async def test_redis_outage_under_load(
    private_postgres: PrivatePostgres,
    private_redis: RedisServer,
    private_localstripe: LocalStripe,
) -> None:
    outage = Outage(
        "redis",
        stop=private_redis.stop,
        start=private_redis.start,
        allowed=frozenset(),  # the cache is only a cache: nothing fails while it is away
        # Creates and reads go on without Redis, from the database.
        met=lambda ledger, since: (
            len(ledger.ok("CreatePayment", started_after=since)) >= 2 * CLIENTS
        ),
    )
    env = chaos_env(private_postgres.url, private_localstripe, redis_url=private_redis.url)
    await _outage_test(outage, env, private_postgres, private_localstripe)
