"""Benchmark: webhook ingest (verify + durable store, group commit) against applying inline.

Starts two `payment-service serve` processes on PostgreSQL (a database of its own,
``bench_webhooks``, made afresh) and Redis, both pinned to core 0 (`taskset -c 0`):
one with the ingest/apply split (the default), one with ``webhook_apply_inline`` (the
path before the split: verify, store and apply inside the request). Each round
precreates ``--unique`` payments directly in the database (waiting to be confirmed,
so applying ``payment_intent.succeeded`` has real work), signs one event per payment
plus 20 % duplicates of them, and has a load generator on core 1 (`taskset -c 1`, an
aiohttp client, 16 in flight) send them all. Rounds alternate between the two servers.

Per round: accepted deliveries/s (answered 200), server CPU per delivery (from
/proc, over the load), and the time from the last answer to every event applied
(polling the database). The round checks the end state: every payment SUCCEEDED,
every event PROCESSED, once. Medians of the rounds, the ratio last.

    .venv/bin/python bench/webhooks.py [--rounds 3] [--unique 4000] [--concurrency 16]
        [--profile DIR]  # py-spy records one round of each server into DIR
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import stripe
from harness import cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.* helpers (the Stripe example objects, builders)

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
DB_NAME = "bench_webhooks"
REDIS = "redis://127.0.0.1:6379/13"
SECRET = "whsec_bench_webhooks"
PII = '["bench:YmVuY2gtb25seS1waWkta2V5LTMyLWJ5dGVzLWxvbmc="]'
DUPLICATES = 0.2


def _psql(sql: str) -> None:
    cmd = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql]
    subprocess.run(cmd, check=True, capture_output=True)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    env.update(
        PAYMENT_DATABASE_URL=f"{PG}/{DB_NAME}",
        PAYMENT_REDIS_URL=REDIS,
        PAYMENT_STRIPE_API_KEY="sk_test_bench",
        PAYMENT_STRIPE_API_BASE="http://127.0.0.1:9",  # never asked: payloads are trusted
        PAYMENT_STRIPE_WEBHOOK_SECRETS=json.dumps([SECRET]),
        PAYMENT_AUTH_HS256_SECRET="bench-secret-0123456789abcdef0123456789",
        PAYMENT_PII_ENCRYPTION_KEYS=PII,
        PAYMENT_GRPC_PORT="0",
        PAYMENT_HTTP_PORT="0",
        PAYMENT_LOG_LEVEL="WARNING",
        PAYMENT_RECONCILE_INTERVAL_S="0",
    )
    env.update({f"PAYMENT_{k.upper()}": v for k, v in extra.items()})
    return env


def _start_server(name: str, **extra: str) -> tuple[subprocess.Popen[str], str]:
    cmd = ["taskset", "-c", "0", sys.executable, "-m", "payment_service.cli", "serve"]
    env = _env(LOG_LEVEL="INFO", **extra)
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if '"serving"' in line:
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            port = json.loads(line)["http_port"]
            print(f"# {name}: pid {proc.pid}, http port {port}", flush=True)
            return proc, f"http://127.0.0.1:{port}/stripe/webhooks"
    raise SystemExit(f"{name} did not start")


async def _precreate(count: int, tag: str) -> list[tuple[str, str]]:
    """``count`` payments waiting to be confirmed; (payment id, PaymentIntent id) each."""
    from payment_service.adapters.db.encrypted import use_field_cipher
    from payment_service.adapters.db.engine import create_engine
    from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
    from payment_service.bootstrap.services import build_field_cipher
    from payment_service.config import Settings
    from payment_service.domain.states import CaptureMethod, PaymentState
    from tests.integration.db import builders

    settings = Settings(database_url=f"{PG}/{DB_NAME}", pii_encryption_keys=json.loads(PII))
    use_field_cipher(build_field_cipher(settings))
    engine = create_engine(settings.database_url)
    made = []
    try:
        factory = SqlUnitOfWorkFactory(engine)
        async with factory() as uow:
            for n in range(count):
                payment = builders.payment(
                    None,
                    stripe_payment_intent_id=f"pi_{tag}_{n}",
                    state=PaymentState.REQUIRES_CONFIRMATION,
                    capture_method=CaptureMethod.AUTOMATIC,
                    amount=1050,
                    currency="usd",
                    amount_capturable=0,
                    amount_received=0,
                    lease_until=None,
                    remote_updated_at=None,
                    synced_at=None,
                )
                await uow.payments.add(payment)
                made.append((payment.id, f"pi_{tag}_{n}"))
            await uow.commit()
    finally:
        await engine.dispose()
    return made


def _bodies(payments: list[tuple[str, str]], tag: str) -> list[tuple[str, str]]:
    """Signed payment_intent.succeeded deliveries, one per payment plus 20 % repeats."""
    from tests.integration.webhooks.support import event, payment_intent

    unique = []
    for n, (payment_id, pi_id) in enumerate(payments):
        evt = event(
            "payment_intent.succeeded",
            payment_intent(pi_id, "succeeded", payment_id=payment_id),
            event_id=f"evt_{tag}_{n}",
        )
        body = json.dumps(evt, separators=(",", ":"))
        header = stripe.WebhookSignature.generate_signature_header(body, SECRET)
        unique.append((body, header))
    step = round(1 / DUPLICATES) - 1  # every 4th delivery repeats an earlier one: 20 %
    out: list[tuple[str, str]] = []
    for n, delivery in enumerate(unique):
        out.append(delivery)
        if n % step == step - 1:
            out.append(unique[n // 2])
    return out


async def _load(url: str, deliveries: list[list[str]], concurrency: int) -> dict[str, Any]:
    """The load generator (its own process, core 1): send every delivery."""
    statuses: dict[int, int] = {}
    queue = iter(deliveries)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for body, header in queue:
                headers = {"Content-Type": "application/json", "Stripe-Signature": header}
                async with session.post(url, data=body.encode(), headers=headers) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {"elapsed": elapsed, "statuses": statuses, "ended": time.time()}


async def _counts(tag: str) -> tuple[int, int, int]:
    """(events not applied yet, events processed, payments succeeded) of this round."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(
        f"host=127.0.0.1 user=postgres dbname={DB_NAME}", autocommit=True
    ) as conn:
        like = f"evt_{tag}_%"
        row = await (
            await conn.execute(
                "select count(*) filter (where state in ('received','failed')),"
                " count(*) filter (where state = 'processed') from webhook_events"
                " where stripe_event_id like %s",
                (like,),
            )
        ).fetchone()
        paid = await (
            await conn.execute(
                "select count(*) from transactions where stripe_payment_intent_id like %s"
                " and state = 'succeeded'",
                (f"pi_{tag}_%",),
            )
        ).fetchone()
    assert row is not None
    assert paid is not None
    return int(row[0]), int(row[1]), int(paid[0])


async def _all_applied(tag: str, ended: float, timeout_s: float = 120.0) -> float:
    while True:
        waiting, _, _ = await _counts(tag)
        if waiting == 0:
            return max(time.time() - ended, 0.0)
        if time.time() - ended > timeout_s:
            return float("inf")
        await asyncio.sleep(0.02)


def _round(
    name: str,
    server: subprocess.Popen[str],
    url: str,
    unique: int,
    concurrency: int,
    tag: str,
    profile: Path | None,
) -> dict[str, float]:
    payments = asyncio.run(_precreate(unique, tag))
    path = ROOT / f".bench-webhooks-{tag}.json"
    path.write_text(json.dumps(_bodies(payments, tag)))
    spy = None
    if profile is not None:
        out = profile / f"{name}.txt"
        spy_cmd = [str(ROOT / ".venv/bin/py-spy"), "record", "-p", str(server.pid)]
        spy_cmd += ["-f", "raw", "-o", str(out), "-r", "250", "--nonblocking"]
        spy = subprocess.Popen(spy_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
    cpu_before = cpu_seconds(server.pid)
    load_cmd = ["taskset", "-c", "1", sys.executable, __file__, "--load", url, str(path)]
    load_cmd += ["--concurrency", str(concurrency)]
    load = subprocess.run(load_cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    result = json.loads(load.stdout.strip().splitlines()[-1])
    cpu_load = cpu_seconds(server.pid) - cpu_before
    lag = asyncio.run(_all_applied(tag, result["ended"]))
    cpu_total = cpu_seconds(server.pid) - cpu_before
    if spy is not None:
        spy.send_signal(signal.SIGINT)  # py-spy writes its profile on Ctrl-C
        spy.wait(60)
    path.unlink()
    waiting, processed, paid = asyncio.run(_counts(tag))
    sent = sum(result["statuses"].values())
    accepted = result["statuses"].get("200", 0)
    return {
        "sent": sent,
        "accepted": accepted,
        "rate": accepted / result["elapsed"],
        "cpu_ms": cpu_load * 1000 / max(sent, 1),
        "cpu_all_ms": cpu_total * 1000 / max(sent, 1),
        "lag_s": lag,
        "processed": processed,
        "paid": paid,
        "unique": unique,
        "waiting": waiting,
        "other": sent - accepted,  # 202 (inline: applying failed, deferred), 503, ...
    }


def main(rounds: int, unique: int, concurrency: int, profile: Path | None) -> None:
    _psql(f"drop database if exists {DB_NAME} with (force)")
    _psql(f"create database {DB_NAME}")
    migrate = [sys.executable, "-m", "payment_service.cli", "migrate"]
    subprocess.run(migrate, env=_env(), check=True, capture_output=True, cwd=ROOT)
    servers = {
        "split": _start_server("split (ingest + appliers)"),
        "inline": _start_server("inline (apply in request)", webhook_apply_inline="true"),
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
    print(
        f"# {rounds} rounds x {unique} unique payment_intent.succeeded + 20 % duplicates, "
        f"{concurrency} in flight; server on core 0, load on core 1; PostgreSQL + Redis; "
        f"load average {_loadavg()}",
        flush=True,
    )
    try:
        for n in range(rounds):
            for name, (proc, url) in servers.items() if n % 2 == 0 else reversed(servers.items()):
                spy = profile if (profile is not None and n == 0) else None
                got = _round(name, proc, url, unique, concurrency, f"{name}{n}", spy)
                results[name].append(got)
                print(f"{name:<7} round {n}: " + _line(got), flush=True)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        for proc, _ in servers.values():
            proc.wait(20)
    print(f"\n# load average {_loadavg()}")
    print("medians")
    med = {
        name: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        for name, rs in results.items()
    }
    for name, got in med.items():
        print(f"{name:<7} " + _line(got))
    ratio = med["split"]["rate"] / med["inline"]["rate"]
    print(f"\naccepted deliveries/s, split / inline: {ratio:.2f}")


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _line(got: dict[str, float]) -> str:
    return (
        f"{got['rate']:7.0f} accepted/s  ({got['accepted']:.0f}/{got['sent']:.0f} answered 200, "
        f"{got['other']:.0f} other)  "
        f"CPU {got['cpu_ms']:.2f} ms/delivery during load, {got['cpu_all_ms']:.2f} incl. catch-up  "
        f"last answer -> all applied {got['lag_s']:.2f} s  "
        f"end state: {got['processed']:.0f} events processed, {got['paid']:.0f} payments "
        f"succeeded of {got['unique']:.0f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--unique", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--load", nargs=2, metavar=("URL", "FILE"))
    args = parser.parse_args()
    if args.load:
        deliveries = json.loads(Path(args.load[1]).read_text())
        print(json.dumps(asyncio.run(_load(args.load[0], deliveries, args.concurrency))))
    else:
        if args.profile is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
        main(args.rounds, args.unique, args.concurrency, args.profile)
