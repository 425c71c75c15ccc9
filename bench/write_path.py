"""Benchmark: CreatePayment + ConfirmPayment through the service against the same two
Stripe requests made directly with stripe-python, on the same localstripe.

Starts localstripe and `payment-service serve` on free loopback ports, for each backend
asked for: PostgreSQL + Redis (a private database ``bench_write_path`` on the local
server, Redis db 12), and SQLite + in-memory cache. The server is pinned to core 0
(``taskset -c 0``), this process and localstripe to core 1, when the machine has two.
Each round makes ``--pairs`` sequential pairs, alternating service and direct rounds
in the same run; medians over the rounds are printed, the added latency last.

Per pair it reports p50/p99 latency, the server's CPU (utime+stime of its process,
from /proc/<pid>/stat, over the service rounds), and on PostgreSQL the transactions
per pair (pg_stat_database xact_commit + xact_rollback of the private database, less
the server's idle rate: the readiness probe's SELECT 1 every second). Database round
trips per pair are counted in process (``--count``): an app built like the server's
over an engine whose statements, BEGINs, COMMITs and ROLLBACKs are counted.

``--floor`` (PostgreSQL) also runs bench/write_floor.py's server, pinned to the same
core, in every round (service, floor, direct): the least work any service obeying the
write rules does for the pair on the same stack, so its CPU and added latency tell how
much of the service's is the stack's and how much our own.

    .venv/bin/python bench/write_path.py [--pairs 200] [--rounds 3]
        [--backend postgres|sqlite|both] [--floor] [--profile /tmp/prof]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import grpc.aio
import stripe
from harness import cpu_times, start_process
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc as rpc

from payment_service.config import Settings
from payment_service.security.tokens import mint_token

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-0123456789abcdef0123456789"
PG_ADMIN = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-Atq", "-c"]
PG_DB = "bench_write_path"
REDIS_URL = "redis://127.0.0.1:6379/12"
ACCOUNT = "acct_bench_writes"
AMOUNT, CURRENCY, CARD = 1050, "usd", "pm_card_visa"
TWO_CORES = (os.cpu_count() or 1) >= 2
RUN = "".join(random.choices(string.ascii_lowercase, k=10))
COUNTER = itertools.count()


def pinned(core: int, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *cmd] if TWO_CORES else cmd


def pg_transactions() -> int:
    query = (
        "select pg_stat_clear_snapshot(); select xact_commit + xact_rollback "
        f"from pg_stat_database where datname = '{PG_DB}'"
    )
    out = subprocess.run([*PG_ADMIN, query], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[-1])


def fresh_pg_database() -> str:
    for sql in (f"drop database if exists {PG_DB} with (force)", f"create database {PG_DB}"):
        subprocess.run([*PG_ADMIN, sql], check=True, capture_output=True)
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}"


def server_env(backend: str, stripe_base: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    if backend == "postgres":
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        env.update(PAYMENT_DATABASE_URL=fresh_pg_database(), PAYMENT_REDIS_URL=REDIS_URL)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="bench-writes-"))
        env.update(PAYMENT_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'bench.db'}")
    env.update(
        PAYMENT_STRIPE_API_BASE=stripe_base,
        PAYMENT_STRIPE_API_KEY="sk_test_bench",
        PAYMENT_AUTH_HS256_SECRET=SECRET,
        PAYMENT_PII_ENCRYPTION_KEYS='["bench:YmVuY2gtb25seS1waWkta2V5LTMyLWJ5dGVzLWxvbmc="]',
        PAYMENT_GRPC_PORT="0",
        PAYMENT_HTTP_PORT="0",
        PAYMENT_WEBHOOK_RETRY_POLL_S="3600",
        PAYMENT_RECONCILE_INTERVAL_S="0",
    )
    return env


@dataclass
class Rounds:
    latencies: list[list[float]] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # server CPU seconds per pair, per round
    system: list[float] = field(default_factory=list)  # of which in the kernel (stime)
    seconds: float = 0.0  # wall time of all rounds

    def add(self, latencies: list[float]) -> None:
        self.latencies.append(sorted(latencies))

    def p(self, q: float) -> float:
        return statistics.median(r[int(q * (len(r) - 1))] * 1000 for r in self.latencies)


class ServicePairs:
    def __init__(self, channel: grpc.aio.Channel, *, authorized: bool = True) -> None:
        self.stub = rpc.PaymentServiceStub(channel)
        token = mint_token(
            Settings(auth_hs256_secret=SECRET),
            sub="bench",
            scopes=["payments:read", "payments:write"],
            ttl_s=3600,
        )
        self.metadata = (("authorization", f"Bearer {token}"),) if authorized else ()

    async def pair(self) -> None:
        # Letters around a short counter: a random hex string may hold a Luhn-valid run of
        # digits, which the service refuses as a card number.
        key = f"{RUN}-{next(COUNTER)}"
        created = await self.stub.CreatePayment(
            pb.CreatePaymentRequest(
                request_id=f"c-{key}",
                account_id=ACCOUNT,
                amount=AMOUNT,
                currency_code=CURRENCY,
                stripe_payment_method_id=CARD,
            ),
            metadata=self.metadata,
        )
        confirmed = await self.stub.ConfirmPayment(
            pb.ConfirmPaymentRequest(request_id=f"f-{key}", id=created.payment.id),
            metadata=self.metadata,
        )
        assert confirmed.payment.state == pb.PAYMENT_STATE_SUCCEEDED, confirmed


class DirectPairs:
    """The two requests the service sends, with its parameters and idempotency keys."""

    def __init__(self, base: str) -> None:
        self.http = stripe.AIOHTTPClient(timeout=aiohttp.ClientTimeout(total=20))
        addresses = {"api": base, "connect": base, "files": base, "meter_events": base}
        self.client = stripe.StripeClient(
            "sk_test_bench",
            base_addresses=addresses,
            http_client=self.http,  # type: ignore[arg-type]
        )
        self.customer = ""

    async def setup(self) -> None:
        created = await self.client.v1.customers.create_async({"metadata": {"bench": "1"}})
        self.customer = created.id

    async def pair(self) -> None:
        payment_id = f"pay_{RUN}{next(COUNTER)}"
        intent = await self.client.v1.payment_intents.create_async(
            {
                "amount": AMOUNT,
                "currency": CURRENCY,
                "capture_method": "automatic",
                "metadata": {"payment_id": payment_id},
                "expand": ["latest_charge"],
                "customer": self.customer,
                "payment_method": CARD,
            },
            {"idempotency_key": f"{payment_id}:create"},
        )
        confirmed = await self.client.v1.payment_intents.confirm_async(
            intent.id,
            {"expand": ["latest_charge"]},
            {"idempotency_key": f"{payment_id}:confirm:f-{payment_id}"},
        )
        assert confirmed.status == "succeeded", confirmed.status


async def timed(pair: Callable[[], object], pairs: int) -> list[float]:
    latencies = []
    for _ in range(pairs):
        began = time.perf_counter()
        await pair()  # type: ignore[misc]
        latencies.append(time.perf_counter() - began)
    return latencies


async def served_round(rounds: Rounds, pair: Callable[[], object], pid: int, pairs: int) -> None:
    began, (user0, sys0) = time.perf_counter(), cpu_times(pid)
    rounds.add(await timed(pair, pairs))
    user1, sys1 = cpu_times(pid)
    rounds.cpu.append((user1 - user0 + sys1 - sys0) / pairs)
    rounds.system.append((sys1 - sys0) / pairs)
    rounds.seconds += time.perf_counter() - began


async def measure(
    backend: str,
    port: int,
    server_pid: int,
    stripe_base: str,
    args: argparse.Namespace,
    floor: tuple[int, int] | None = None,
) -> dict[str, float]:
    """``floor``: the port and pid of bench/write_floor.py's server, run in the same
    rounds (service, floor, direct, service, ...)."""
    service, direct, floor_rounds = Rounds(), Rounds(), Rounds()
    direct_pairs = DirectPairs(stripe_base)
    await direct_pairs.setup()
    floor_channel = grpc.aio.insecure_channel(f"127.0.0.1:{floor[0]}") if floor else None
    floor_pairs = ServicePairs(floor_channel, authorized=False) if floor_channel else None
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        service_pairs = ServicePairs(channel)
        await timed(service_pairs.pair, 30)  # warm-up: the account's customer, caches, pools
        await timed(direct_pairs.pair, 30)
        if floor_pairs is not None:
            await timed(floor_pairs.pair, 30)
        idle_rate = await idle_transaction_rate() if backend == "postgres" else 0.0
        xacts_before = pg_transactions() if backend == "postgres" else 0
        for _ in range(args.rounds):
            await served_round(service, service_pairs.pair, server_pid, args.pairs)
            if floor is not None and floor_pairs is not None:
                await served_round(floor_rounds, floor_pairs.pair, floor[1], args.pairs)
            began = time.perf_counter()
            direct.add(await timed(direct_pairs.pair, args.pairs))
            direct.seconds += time.perf_counter() - began
    await direct_pairs.http.close_async()
    if floor_channel is not None:
        await floor_channel.close()
    result = {
        "service_p50": service.p(0.5),
        "service_p99": service.p(0.99),
        "direct_p50": direct.p(0.5),
        "direct_p99": direct.p(0.99),
        "cpu_ms": statistics.median(service.cpu) * 1000,
        "sys_ms": statistics.median(service.system) * 1000,
    }
    if floor is not None:
        result["floor_p50"] = floor_rounds.p(0.5)
        result["floor_cpu_ms"] = statistics.median(floor_rounds.cpu) * 1000
    if backend == "postgres":
        await asyncio.sleep(11)  # an idle backend reports its last transactions within 10 s
        total = pg_transactions() - xacts_before - (4 * args.pairs * args.rounds if floor else 0)
        seconds = service.seconds + direct.seconds + floor_rounds.seconds + 11
        result["xacts"] = (total - idle_rate * seconds) / (args.pairs * args.rounds)
    return result


async def idle_transaction_rate() -> float:
    """The server's own transactions per second while no request comes (its probe)."""
    await asyncio.sleep(11)
    before = pg_transactions()
    await asyncio.sleep(10)
    return (pg_transactions() - before) / 10


async def count_round_trips(
    env: dict[str, str], pairs: int, *, timing: bool = False
) -> dict[str, float]:
    """The same pairs through an in-process app built from the server's settings, over
    an engine whose transactions and round trips are counted."""
    from write_timing import instrument  # bench/, beside this file

    from payment_service.adapters.db.counting import count_sql
    from payment_service.app.common.audit_context import NO_FACTS, current_rpc_facts
    from payment_service.bootstrap.app import build_app
    from payment_service.bootstrap.services import Database

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        app = build_app(Settings())
    finally:
        os.environ.clear()
        os.environ.update(saved)
    engine = next(r.engine for r in app.resources if isinstance(r, Database))
    counts = count_sql(engine, only=lambda: current_rpc_facts() is not NO_FACTS)
    timings = instrument(engine) if timing else None
    await app.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc.port}") as channel:
            service = ServicePairs(channel)
            await timed(service.pair, 5)
            before = counts.snapshot()
            if timings is not None:
                timings.on = True
            with timings.timed("whole pair (client)") if timings else contextlib.nullcontext():
                await timed(service.pair, pairs)
            done = counts.since(before)
    finally:
        await app.stop()
    if timings is not None:
        print(f"\n-- in process, {pairs} pairs: time per pair, inclusive --")
        print(timings.report(pairs))
    return {"counted_xacts": done.transactions / pairs, "round_trips": done.round_trips / pairs}


def print_result(backend: str, r: dict[str, float], pairs: int, rounds: int) -> None:
    print(f"\n== {backend}: {rounds} alternating rounds of {pairs} sequential pairs, medians ==")
    print(f"service  p50 {r['service_p50']:7.2f} ms   p99 {r['service_p99']:7.2f} ms per pair")
    print(f"direct   p50 {r['direct_p50']:7.2f} ms   p99 {r['direct_p99']:7.2f} ms per pair")
    print(
        f"server CPU per pair          {r['cpu_ms']:7.2f} ms  (of it in the kernel {r['sys_ms']:.2f} ms)"
    )
    if "xacts" in r:
        print(f"transactions per pair        {r['xacts']:7.2f}  (pg_stat_database)")
    if "round_trips" in r:
        print(f"transactions per pair        {r['counted_xacts']:7.2f}  (counted in process)")
        print(f"DB round trips per pair      {r['round_trips']:7.2f}  (counted in process)")
    if "floor_p50" in r:
        print(
            f"floor    p50 {r['floor_p50']:7.2f} ms   CPU per pair {r['floor_cpu_ms']:.2f} ms"
            f"   (bench/write_floor.py: added p50 {r['floor_p50'] - r['direct_p50']:+.2f} ms)"
        )
        print(f"ratio service/floor: CPU {r['cpu_ms'] / r['floor_cpu_ms']:.2f}")
    added = r["service_p50"] - r["direct_p50"]
    print(
        f"added p50 {added:+.2f} ms ({added / r['direct_p50'] * 100:+.0f} %), "
        f"ratio service/direct {r['service_p50'] / r['direct_p50']:.2f}"
    )


def py_spy(pid: int, out: str) -> subprocess.Popen[bytes]:
    """py-spy recording process ``pid`` at 200 Hz, raw collapsed stacks to ``out``. It
    stops the process for each sample (whole stacks, so inclusive shares hold), which
    inflates its CPU per pair by about a fifth."""
    cmd = [str(ROOT / ".venv/bin/py-spy"), "record", "-p", str(pid), "-o", out]
    cmd += ["-f", "raw", "-r", "200"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    stripe_proc, line = start_process(
        pinned(
            1, [sys.executable, "tools/localstripe_server.py", "--port", "0", "--no-access-log"]
        ),
        env,
        lambda text: text.startswith("LOCALSTRIPE_LISTENING"),
    )
    stripe_base = line.split()[1]
    env = server_env(backend, stripe_base)
    migrate = [sys.executable, "-m", "payment_service.cli", "migrate"]
    subprocess.run(migrate, env=env, check=True, capture_output=True, cwd=ROOT)
    server, serving = start_process(
        pinned(0, [sys.executable, "-m", "payment_service.cli", "serve"]),
        env,
        lambda text: '"serving"' in text,
    )
    profilers: list[subprocess.Popen[bytes]] = []
    floor_server = None
    try:
        port = int(json.loads(serving)["grpc_port"])
        floor = None
        if args.floor and backend == "postgres":
            database = env["PAYMENT_DATABASE_URL"].replace("+psycopg", "")
            floor_cmd = [sys.executable, "bench/write_floor.py", "--database", database]
            floor_cmd += ["--redis", REDIS_URL, "--stripe", stripe_base]
            floor_server, listening = start_process(
                pinned(0, floor_cmd), env, lambda text: text.startswith("FLOOR_LISTENING")
            )
            floor = (int(listening.split()[1]), floor_server.pid)
            if args.profile:
                profilers.append(py_spy(floor_server.pid, f"{args.profile}.floor"))
        if args.profile:
            profilers.append(py_spy(server.pid, f"{args.profile}.{backend}"))
        result = asyncio.run(measure(backend, port, server.pid, stripe_base, args, floor))
        if args.count:
            result.update(asyncio.run(count_round_trips(env, args.count, timing=args.timing)))
        return result
    finally:
        for profiler in profilers:
            profiler.send_signal(2)
            profiler.wait(30)
        for proc in (server, stripe_proc, floor_server):
            if proc is not None:
                proc.terminate()
                proc.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--profile", default="", help="py-spy raw output path prefix")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run bench/write_floor.py's server in the same rounds (PostgreSQL)",
    )
    parser.add_argument("--count", type=int, default=20, help="pairs counted in process (0: off)")
    parser.add_argument(
        "--timing",
        action="store_true",
        help="time statements, commits, Redis, Stripe of the counted pairs",
    )
    args = parser.parse_args()
    if TWO_CORES:
        os.sched_setaffinity(0, {1})
    backends = ["postgres", "sqlite"] if args.backend == "both" else [args.backend]
    results = {backend: run_backend(backend, args) for backend in backends}
    for backend, result in results.items():
        print_result(backend, result, args.pairs, args.rounds)


if __name__ == "__main__":
    main()
