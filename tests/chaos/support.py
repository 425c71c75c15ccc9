"""What the chaos tests share: the server's settings, a ledger of every call and its answer,
retrying a request with the same request_id, and what the database and Stripe hold afterwards.

Every call a chaos client makes goes through ``Ledger.call``, which records the method,
the request_id, when it started and ended, and the status code (with the ErrorInfo reason),
so the assertions can say exactly which answers were wrong and when they came.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import grpc
import grpc.aio
import psycopg
from payments.v1 import payment_service_pb2 as pb

from tests.support.localstripe import LocalStripe
from tests.support.server import bearer, make_token, server_env
from tests.support.stack import error_details

T = TypeVar("T")

CALL_TIMEOUT_S = 10.0
# A killed or restarted server is reconnected to quickly (gRPC's default backoff grows to 2 min).
FAST_RECONNECT = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
)
# A caller may retry these with the same request_id; anything else is an answer.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
METADATA = bearer(make_token(ttl_s=4 * 3600))


def chaos_env(
    database_url: str, localstripe: LocalStripe, *, redis_url: str | None = None, **overrides: str
) -> dict[str, str]:
    """The real server's settings: this database and Redis, localstripe, no periodic
    reconciler (the kill test runs it once itself), no webhooks."""
    settings = {
        "database_url": database_url,
        "stripe_api_key": localstripe.api_key,
        "stripe_api_base": localstripe.base_url,
        "stripe_timeout_s": "5",
        "stripe_max_network_retries": "0",
        "reconcile_interval_s": "0",
        "log_level": "INFO",
    }
    if redis_url is not None:
        settings["redis_url"] = redis_url
    settings.update(overrides)
    return server_env(**settings)


def state_name(state: int) -> str:
    """``PAYMENT_STATE_SUCCEEDED`` -> ``succeeded``, as the database stores it."""
    return pb.PaymentState.Name(state).removeprefix("PAYMENT_STATE_").lower()


_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def new_request_id(run_id: str, kind: str) -> str:
    """Letters only after the run id: a long run of digits in metadata may look like a card
    number (and the service refuses card numbers in metadata)."""
    return f"{run_id}-{kind}-{uuid.uuid4().hex[:16].translate(_NO_DIGITS)}"


# --- the ledger ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    request_id: str
    started: float  # time.monotonic()
    ended: float
    code: grpc.StatusCode
    reason: str = ""
    message: str = ""

    def __str__(self) -> str:
        return (
            f"{self.method} {self.request_id} -> {self.code.name}"
            f"{f' {self.reason}' if self.reason else ''} {self.message!r} "
            f"({self.ended - self.started:.2f}s)"
        )


@dataclass
class Ledger:
    """Every call and its answer, and every payment a CreatePayment acknowledged."""

    calls: list[Call] = field(default_factory=list)
    acknowledged: dict[str, pb.Payment] = field(default_factory=dict)  # request_id -> answer
    requests: dict[str, pb.CreatePaymentRequest] = field(default_factory=dict)

    async def call(
        self, method: str, request_id: str, invoke: Callable[[], Awaitable[T]]
    ) -> T | None:
        """Make the call once; None (and the code recorded) when it failed."""
        started = time.monotonic()
        try:
            reply = await invoke()
        except grpc.aio.AioRpcError as error:
            details = error_details(error)
            self.calls.append(
                Call(
                    method,
                    request_id,
                    started,
                    time.monotonic(),
                    error.code(),
                    details.reason,
                    details.message[:200],
                )
            )
            return None
        self.calls.append(Call(method, request_id, started, time.monotonic(), grpc.StatusCode.OK))
        return reply

    def codes(self) -> Counter[str]:
        return Counter(f"{c.method} {c.code.name}" for c in self.calls)

    def wrong_answers(self, allowed: Iterable[grpc.StatusCode]) -> list[Call]:
        permitted = {grpc.StatusCode.OK, *allowed}
        return [c for c in self.calls if c.code not in permitted]

    def ok(self, method: str, *, started_after: float = 0.0) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and c.code is grpc.StatusCode.OK and c.started >= started_after
        ]

    def failed(
        self,
        *,
        started_after: float = 0.0,
        started_before: float = float("inf"),
        ended_before: float = float("inf"),
    ) -> list[Call]:
        """Failed calls (of any method) in the window."""
        return [
            c
            for c in self.calls
            if c.code is not grpc.StatusCode.OK
            and started_after <= c.started < started_before
            and c.ended < ended_before
        ]

    def retries(self) -> int:
        """Writes made again with a request_id that had been sent before (reads not counted)."""
        seen = Counter((c.method, c.request_id) for c in self.calls if c.method != "GetPayment")
        return sum(n - 1 for n in seen.values())


async def until_answered(
    ledger: Ledger,
    method: str,
    request_id: str,
    invoke: Callable[[], Awaitable[T]],
    *,
    within_s: float,
    backoff_s: float = 0.2,
) -> T | None:
    """Retry with the same request_id while the answer is retryable; the reply, or None when
    the service answered an error (recorded in the ledger). Raises when it never answered."""
    deadline = time.monotonic() + within_s
    while True:
        reply = await ledger.call(method, request_id, invoke)
        if reply is not None:
            return reply
        if ledger.calls[-1].code not in RETRYABLE:
            return None
        if time.monotonic() > deadline:
            tried = [str(c) for c in ledger.calls if c.request_id == request_id][-5:]
            raise AssertionError(f"{method} {request_id} unanswered after {within_s}s: {tried}")
        await asyncio.sleep(backoff_s)


async def alongside(main: Awaitable[T], helpers: Iterable[asyncio.Task[None]]) -> T:
    """Await ``main`` while ``helpers`` (the clients) run; a helper that fails fails it at once."""
    main_task = asyncio.ensure_future(main)
    pending: set[asyncio.Future[Any]] = {main_task, *helpers}
    while True:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if main_task in done:
            return main_task.result()
        for task in done:
            if task.exception() is not None:
                main_task.cancel()
                raise AssertionError("a client failed") from task.exception()


async def wait_until(check: Callable[[], bool], *, within_s: float, what: str) -> float:
    """Poll ``check`` until true; returns when (time.monotonic()) it became true."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s}s waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic()


def keep_server_log(output: str, name: str) -> str:
    """Write a server's whole output to a file for the failure report; returns where it is,
    with each error record in short (its message, the last frame of ours, the exception)."""
    handle, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
    with os.fdopen(handle, "w") as file:
        file.write(output)
    errors = []
    for line in output.splitlines():
        if '"level": "ERROR"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            errors.append(line[:300])
            continue
        trace = str(record.get("exception", "")).splitlines()
        ours = [frame.strip() for frame in trace if "/payment_service/" in frame]
        raised = [line for line in trace if "Error" in line and not line.startswith(" ")]
        errors.append(
            f"{record.get('time')} {record.get('message')} | {ours[-1] if ours else ''} | "
            f"{raised[-1] if raised else ''}"
        )
    return f"server log: {path}\n" + "\n".join(errors[:20])


# --- what the database and Stripe hold --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentRow:
    id: str
    request_id: str
    state: str
    amount: int
    amount_received: int
    stripe_payment_intent_id: str | None
    lease_until: datetime | None


async def payment_rows(conninfo: str) -> list[PaymentRow]:
    """Every payment row, read straight from the database (not through the service)."""
    async with await psycopg.AsyncConnection.connect(conninfo, connect_timeout=10) as conn:
        cursor = await conn.execute(
            "SELECT id, request_id, state, amount, amount_received, stripe_payment_intent_id,"
            " lease_until FROM transactions"
        )
        return [PaymentRow(*row) for row in await cursor.fetchall()]


async def leases_held(conninfo: str) -> int:
    """PENDING rows whose Stripe-call lease has not run out yet."""
    async with await psycopg.AsyncConnection.connect(conninfo, connect_timeout=10) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM transactions WHERE state = 'pending' AND lease_until > now()"
        )
        found = await cursor.fetchone()
        return int(found[0]) if found else 0


def rows_by_request(rows: Iterable[PaymentRow]) -> dict[str, list[PaymentRow]]:
    grouped: dict[str, list[PaymentRow]] = defaultdict(list)
    for row in rows:
        grouped[row.request_id].append(row)
    return grouped


async def intents_by_request(
    localstripe: LocalStripe, run_id: str
) -> dict[str, list[dict[str, Any]]]:
    """This run's PaymentIntents at Stripe, by the request_id in their metadata."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for intent in await localstripe.list_objects("payment_intents"):
        metadata: Mapping[str, str] = intent.get("metadata") or {}
        if metadata.get("chaos_run") == run_id:
            grouped[metadata.get("request_id", "")].append(intent)
    return grouped


def duplicates(
    request_ids: Iterable[str],
    rows: Mapping[str, list[PaymentRow]],
    intents: Mapping[str, list[dict[str, Any]]],
) -> list[str]:
    """Every request_id without exactly one row and exactly one PaymentIntent (for ours)."""
    problems = []
    for request_id in request_ids:
        found_rows, found_intents = rows.get(request_id, []), intents.get(request_id, [])
        ours = {r.id for r in found_rows}
        if len(found_rows) != 1 or len(found_intents) != 1:
            problems.append(
                f"{request_id}: rows {sorted(ours)}, PaymentIntents "
                f"{[(i['id'], i['metadata'].get('payment_id'), i['status']) for i in found_intents]}"
            )
        elif found_intents[0]["metadata"].get("payment_id") not in ours:
            problems.append(f"{request_id}: PaymentIntent not for row {sorted(ours)}")
    return problems
