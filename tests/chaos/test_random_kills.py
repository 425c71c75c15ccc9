"""kill -9 of the server at random moments while clients create and confirm payments.

Eight clients run jobs: CreatePayment(confirm=false) then ConfirmPayment, or one
CreatePayment(confirm=true). Each call that fails is retried with the same request_id
until the service answers it. Meanwhile the server process is SIGKILLed 3-5 times (a
seeded RNG picks how many and when; the seed is printed, CHAOS_SEED=<seed> replays the
schedule) and started again on the same ports. Short Stripe timeouts keep the Stripe-call
leases short (FAST_LEASE). After the last kill the server stays down: once the leases of
the requests it cut short have run out, the reconciler (``payment-service reconcile``)
finishes their PENDING payments, then the server comes back and the clients' retries get
their answers. The reconciler runs once more at the end, and then:

- every request_id has exactly one payment row and exactly one PaymentIntent at Stripe;
- no payment is left PENDING;
- Stripe's totals are ours: the sum of amount_received over the PaymentIntents equals the
  sum of our SUCCEEDED payments' amounts, and the succeeded counts are equal;
- every call answered OK in the end, and every acknowledged confirmation is SUCCEEDED.

This test's localstripe is its own, so every PaymentIntent and event there is this test's.
A confirmation whose answer a kill lost is sent to Stripe again with the same
Idempotency-Key, and Stripe answers it with its first answer; localstripe does the same
through tools/localstripe_idempotency.py (without it, it would refuse the second confirm).
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
import re
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
import pytest
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc

from tests.chaos.support import (
    CALL_TIMEOUT_S,
    FAST_RECONNECT,
    METADATA,
    RETRYABLE,
    Ledger,
    PaymentRow,
    alongside,
    chaos_env,
    duplicates,
    intents_by_request,
    keep_server_log,
    leases_held,
    new_request_id,
    payment_rows,
    rows_by_request,
    until_answered,
    wait_until,
)
from tests.e2e.test_reconciler_recovery import FAST_LEASE
from tests.e2e.test_webhooks_delivery import run_cli
from tests.support.localstripe import LocalStripe
from tests.support.postgres_server import PrivatePostgres
from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(200)]

CLIENTS = 8
ONE_STEP_SHARE = 0.3  # jobs that create with confirm=true
ANSWER_WITHIN_S = 90.0  # a call is retried at most this long (restarts, leases of ~6 s)
ANSWERS_BEFORE_KILL = (4, 16)  # answers the clients get between two kills (random)
KILL_JITTER_S = 0.5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Incarnations:
    """The server, killed and started again on the same ports; the outputs of every run."""

    env: dict[str, str]
    run_id: str
    server: ServerProcess | None = None
    outputs: list[str] = field(default_factory=list)
    kills: int = 0

    def start(self) -> None:
        self.server = ServerProcess.start(self.env, timeout_s=60)

    def kill(self) -> None:
        self.finish(kill=True)
        self.kills += 1

    def finish(self, *, kill: bool = False) -> None:
        server, self.server = self.server, None
        if server is None:
            return
        if kill:
            server.kill()  # SIGKILL and wait
        else:
            server.stop()
        self.outputs.append(server.output())
        server.__exit__(None, None, None)

    def output(self) -> str:
        current = [self.server.output()] if self.server is not None else []
        return "\n".join([*self.outputs, *current])


@dataclass
class Jobs:
    run_id: str
    stub: payment_service_pb2_grpc.PaymentServiceAsyncStub
    ledger: Ledger = field(default_factory=Ledger)
    confirmed: dict[str, pb.Payment] = field(default_factory=dict)  # payment id -> answer
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def answered(self) -> int:
        return sum(1 for c in self.ledger.calls if c.code not in RETRYABLE)

    async def _until_answered(self, method: str, request: object, request_id: str) -> object:
        invoke = functools.partial(
            getattr(self.stub, method), request, metadata=METADATA, timeout=CALL_TIMEOUT_S
        )
        return await until_answered(
            self.ledger, method, request_id, invoke, within_s=ANSWER_WITHIN_S
        )

    async def job(self, account_id: str, payment_method: str, rng: random.Random) -> None:
        one_step = rng.random() < ONE_STEP_SHARE
        request_id = new_request_id(self.run_id, "pay")
        create = pb.CreatePaymentRequest(
            request_id=request_id,
            account_id=account_id,
            amount=rng.randint(100, 99_999),
            currency_code="usd",
            stripe_payment_method_id=payment_method,
            confirm=one_step,
            metadata={"chaos_run": self.run_id, "request_id": request_id},
        )
        self.ledger.requests[request_id] = create
        created = await self._until_answered("CreatePayment", create, request_id)
        if not isinstance(created, pb.CreatePaymentResponse):
            return
        self.ledger.acknowledged[request_id] = created.payment
        if one_step:
            return
        confirm_id = new_request_id(self.run_id, "confirm")
        confirm = pb.ConfirmPaymentRequest(request_id=confirm_id, id=created.payment.id)
        confirmed = await self._until_answered("ConfirmPayment", confirm, confirm_id)
        if isinstance(confirmed, pb.ConfirmPaymentResponse):
            self.confirmed[created.payment.id] = confirmed.payment

    async def client(self, localstripe: LocalStripe, rng: random.Random) -> None:
        account_id = f"acct_{uuid.uuid4().hex[:12]}"
        payment_method = await localstripe.create_card_payment_method()
        while not self.stopping.is_set():
            await self.job(account_id, payment_method, rng)


async def _kill_at_random_moments(
    servers: Incarnations, jobs: Jobs, rng: random.Random, postgres: PrivatePostgres
) -> str:
    """3-5 kills, each after a random number of answers and a random delay. After the last
    one the server stays down until the reconciler has finished what the kill cut short
    (the clients keep retrying), then it is started again; the reconciler's report."""
    kills = rng.randint(3, 5)
    for kill in range(kills):
        target = jobs.answered() + rng.randint(*ANSWERS_BEFORE_KILL)
        await wait_until(
            lambda: jobs.answered() >= target, within_s=90, what="answers before the next kill"
        )
        await asyncio.sleep(rng.uniform(0.0, KILL_JITTER_S))  # a random moment mid-call
        await asyncio.to_thread(servers.kill)
        if kill < kills - 1:
            await asyncio.to_thread(servers.start)
    jobs.stopping.set()  # the clients finish their jobs and start no new ones
    report = await _reconcile(servers, postgres)
    await asyncio.to_thread(servers.start)
    return report


async def _run(
    servers: Incarnations, localstripe: LocalStripe, postgres: PrivatePostgres, seed: int
) -> tuple[Jobs, str]:
    rng = random.Random(seed)
    target = servers.server.grpc_target if servers.server is not None else ""
    async with grpc.aio.insecure_channel(target, options=FAST_RECONNECT) as channel:
        jobs = Jobs(servers.run_id, payment_service_pb2_grpc.PaymentServiceStub(channel))
        clients = [
            asyncio.create_task(jobs.client(localstripe, random.Random(rng.random())))
            for _ in range(CLIENTS)
        ]
        try:
            report = await alongside(_kill_at_random_moments(servers, jobs, rng, postgres), clients)
        finally:
            jobs.stopping.set()
            await asyncio.gather(*clients, return_exceptions=True)
        for client in clients:
            if not client.cancelled() and client.exception() is not None:
                raise AssertionError("a client failed") from client.exception()
    return jobs, report


async def _reconcile(servers: Incarnations, postgres: PrivatePostgres) -> str:
    """The leases run out (no request talks to Stripe any more), then one reconciler pass
    (``payment-service reconcile``); the report lines that repaired something."""
    deadline = time.monotonic() + 30
    while await leases_held(postgres.conninfo):
        assert time.monotonic() < deadline, "Stripe-call leases still held after 30 s"
        await asyncio.sleep(0.2)
    result = await asyncio.to_thread(run_cli, servers.env, "reconcile")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not re.search(r"errors=[1-9]", result.stdout), result.stdout
    lines = result.stdout.splitlines()
    return "; ".join(line.split(" oldest")[0] for line in lines if "repaired=0 " not in line)


def _log_lines_about(output: str, needles: set[str], limit: int = 60) -> str:
    lines = [line for line in output.splitlines() if any(n in line for n in needles)]
    return "\n".join(lines[:limit])


def _received_at_stripe(intent: dict[str, Any]) -> int:
    """What Stripe took for a PaymentIntent: ``amount_received``, or (localstripe has none)
    its latest charge's amount once that succeeded and was captured."""
    if intent.get("amount_received") is not None:
        return int(intent["amount_received"])
    charge = intent.get("latest_charge")
    if isinstance(charge, dict) and charge.get("status") == "succeeded" and charge.get("captured"):
        return int(charge["amount"])
    return 0


def _check_answers(jobs: Jobs, rows: list[PaymentRow]) -> None:
    """Every call answered OK in the end; acknowledged confirmations are SUCCEEDED; nothing
    is left PENDING."""
    wrong = jobs.ledger.wrong_answers(RETRYABLE)
    history = [str(c) for w in wrong[:3] for c in jobs.ledger.calls if c.request_id == w.request_id]
    assert not wrong, (
        f"{len(wrong)} calls answered an error:\n"
        + "\n".join(map(str, wrong[:10]))
        + "\n--- their calls ---\n"
        + "\n".join(history)
    )
    assert len(jobs.ledger.acknowledged) == len(jobs.ledger.requests)
    state = {row.id: row.state for row in rows}
    unconfirmed = [p for p in jobs.confirmed if state.get(p) != "succeeded"]
    assert not unconfirmed, f"acknowledged confirmations not SUCCEEDED: {unconfirmed[:10]}"
    pending = [row for row in rows if row.state == "pending"]
    assert not pending, f"{len(pending)} payments left PENDING: {pending[:5]}"


async def _check_stripe(
    jobs: Jobs, rows: list[PaymentRow], localstripe: LocalStripe, output: str
) -> str:
    by_request = rows_by_request(rows)
    intents = await intents_by_request(localstripe, jobs.run_id)
    problems = duplicates(jobs.ledger.requests, by_request, intents)
    if problems:
        needles = {p.split(":")[0] for p in problems}
        needles |= {r.id for rid in needles for r in by_request.get(rid, [])}
        raise AssertionError(
            f"{len(problems)} request_ids without exactly one row and one PaymentIntent:\n"
            + "\n".join(problems[:10])
            + "\n--- server log lines about them ---\n"
            + _log_lines_about(output, needles)
        )
    every = await localstripe.list_objects("payment_intents")
    assert len(every) == len(rows), "PaymentIntents at Stripe that no payment row knows"
    succeeded = [row for row in rows if row.state == "succeeded"]
    ours = (sum(row.amount for row in succeeded), len(succeeded))
    theirs = (
        sum(_received_at_stripe(intent) for intent in every),
        sum(1 for intent in every if intent["status"] == "succeeded"),
    )
    assert theirs == ours, f"Stripe (received, succeeded) {theirs} != ours {ours}"
    return f"Stripe received {theirs[0]} over {theirs[1]} PaymentIntents, ours the same"


async def test_random_kills_during_creates_and_confirms(
    private_postgres: PrivatePostgres,
    private_redis: RedisServer,
    private_localstripe: LocalStripe,
) -> None:
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\nchaos kills: seed {seed} (CHAOS_SEED={seed} replays the schedule)")
    run_id = new_request_id("chaos-kills", "run")
    ports = {"grpc_port": str(_free_port()), "http_port": str(_free_port())}
    env = chaos_env(
        private_postgres.url,
        private_localstripe,
        redis_url=private_redis.url,
        **FAST_LEASE,
        **ports,
    )
    servers = Incarnations(env, run_id)
    servers.start()
    try:
        jobs, while_down = await _run(servers, private_localstripe, private_postgres, seed)
        # A create retried after its row was stored looks for its PaymentIntent first.
        lookups = sum(
            "starting_after" not in r["target"]
            for r in private_localstripe.requests("GET", "/v1/payment_intents?")
        )
        # A call whose answer a kill lost, sent again with its key: Stripe's saved answer.
        replays = sum(r.get("replayed") == "true" for r in private_localstripe.requests("POST"))
        servers.finish()
        at_the_end = await _reconcile(servers, private_postgres)
        rows = await payment_rows(private_postgres.conninfo)
        print(
            f"chaos kills: {servers.kills} kills, {len(jobs.ledger.requests)} creates "
            f"({len(jobs.confirmed)} confirmed after), calls made again with the same "
            f"request_id: {jobs.ledger.retries()}, PaymentIntent lookups before a re-create "
            f"(retried creates, reconciler): {lookups}, Stripe replays of a saved answer: {replays}; "
            f"answers {dict(jobs.ledger.codes())}\nreconciler after the last kill: "
            f"{while_down or 'nothing to repair'}\nreconciler at the end: "
            f"{at_the_end or 'nothing to repair'}"
        )
        # Stripe first: a double charge matters most, whatever else went wrong.
        print(
            "chaos kills: " + await _check_stripe(jobs, rows, private_localstripe, servers.output())
        )
        _check_answers(jobs, rows)
    except BaseException:
        print(keep_server_log(servers.output(), run_id))
        raise
    finally:
        servers.finish()
