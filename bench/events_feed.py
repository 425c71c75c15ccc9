"""Benchmark: events from commit to a WatchEvents consumer, in one process (one loop).

Builds the service in-process (SQLite file by default, or ``--database-url`` for
PostgreSQL, which must be migrated) with a real gRPC server on a free port, opens one
WatchEvents stream over loopback, then commits ``--events`` payments (``--batch`` per
transaction) through the repositories as fast as it can, and reports the events per
second the consumer received (first commit to last event) and the commit-to-delivery
latency (receive time minus the event's create time, which is set just before the
commit). Writer, server and consumer share the loop, so this is a floor.

``--nats URL`` serves the stream from JetStream instead (the relay in the same process
publishes the outbox to a stream of its own, in memory, deleted afterwards; the consumer
reads it through WatchEvents as on any replica): commit -> relay -> JetStream -> feed ->
consumer. The database is migrated to head first (idempotent).

    .venv/bin/python bench/events_feed.py [--events 5000] [--batch 10] [--database-url URL]
        [--nats nats://127.0.0.1:4222]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc.aio
import nats
from payments.v1 import event_service_pb2 as pb
from payments.v1 import event_service_pb2_grpc as rpc

from payment_service.adapters.db.engine import create_engine
from payment_service.adapters.db.schema_check import upgrade_to_head
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.bootstrap.app import build_app
from payment_service.config import Settings
from payment_service.domain.entities import Customer, Payment
from payment_service.domain.ids import new_id
from payment_service.domain.states import CaptureMethod, PaymentState
from payment_service.security.field_cipher import FieldCipher, use_field_cipher
from payment_service.security.tokens import mint_token

KEY = "bench:YmVuY2gtb25seS1waWkta2V5LTMyLWJ5dGVzLWxvbmc="
SECRET = "bench-secret-0123456789abcdef0123456789abcdef"


def _payment(customer: Customer) -> Payment:
    pid = new_id("pay")
    return Payment(
        id=pid,
        account_id=customer.account_id,
        customer_id=customer.id,
        caller="bench",
        request_id=pid,
        request_hash="a" * 64,
        amount=1050,
        currency="usd",
        capture_method=CaptureMethod.AUTOMATIC,
        state=PaymentState.PENDING,
        metadata={},
        confirm_on_create=True,
    )


ACCOUNT = new_id("acct")


async def _write(uow_factory: SqlUnitOfWorkFactory, events: int, batch: int) -> float:
    customer = Customer(id=new_id("cust"), account_id=ACCOUNT)
    async with uow_factory() as uow:
        await uow.customers.add(customer)
        await uow.commit()
    started = time.perf_counter()
    for _ in range(events // batch):
        async with uow_factory() as uow:
            for _ in range(batch):
                await uow.payments.add(_payment(customer))
            await uow.commit()
        await asyncio.sleep(0)
    return started


async def main(args: argparse.Namespace) -> None:
    url = args.database_url or f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    os.environ["PAYMENT_PII_ENCRYPTION_KEYS"] = json.dumps([KEY])
    use_field_cipher(FieldCipher.from_specs([KEY]))
    await upgrade_to_head(url)
    token_hex = secrets.token_hex(4)
    nats_settings: dict[str, Any] = {}
    if args.nats:
        nats_settings = {
            "nats_url": args.nats,
            "nats_stream": f"BENCH_EVENTS_{token_hex}",
            "nats_subject_prefix": f"bench_{token_hex}.events",
            "nats_stream_storage": "memory",
        }
    settings = Settings(
        database_url=url,
        grpc_port=0,
        http_port=0,
        auth_hs256_secret=SECRET,
        stripe_api_key="sk_test_bench",
        stripe_api_base="http://127.0.0.1:9",
        reconcile_interval_s=0,
        log_level="ERROR",
        events_stream_buffer=max(10000, args.events),
        pii_encryption_keys=[KEY],
        **nats_settings,
    )
    app = build_app(settings)
    await app.start()
    engine = create_engine(url, pool_size=5, max_overflow=5)
    token = mint_token(settings, sub="bench", scopes=["events:read"])
    lags: list[float] = []
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc.port}") as channel:
            stream = rpc.EventServiceStub(channel).WatchEvents(
                pb.WatchEventsRequest(account_id=ACCOUNT, from_now=True),
                metadata=[("authorization", f"Bearer {token}")],
            )
            await asyncio.sleep(0.5)

            async def consume() -> float:
                while len(lags) < args.events:
                    message = await stream.read()
                    if message.heartbeat:
                        continue
                    lags.append(time.time() - message.event.create_time.ToNanoseconds() / 1e9)
                return time.perf_counter()

            consumer = asyncio.ensure_future(consume())
            started = await _write(SqlUnitOfWorkFactory(engine), args.events, args.batch)
            try:
                finished = await asyncio.wait_for(consumer, args.wait_s)
            except TimeoutError:
                print(f"only {len(lags)} of {args.events} events arrived")
                raise
            stream.cancel()
    finally:
        await engine.dispose()
        await app.stop()
        if args.nats:
            await _delete_stream(args.nats, nats_settings["nats_stream"])
    lags.sort()
    took = finished - started
    engine_name = "nats jetstream" if args.nats else "embedded (outbox tail)"
    print(
        f"backend: {url.split(':')[0]}, feed: {engine_name}, events: {len(lags)}, batch: {args.batch}"
    )
    print(f"events/s commit -> consumer: {len(lags) / took:.0f} ({took:.2f} s)")
    p50, p99 = lags[len(lags) // 2], lags[int(len(lags) * 0.99) - 1]
    print(
        f"commit-to-delivery: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {lags[-1] * 1000:.1f} ms, mean {statistics.fmean(lags) * 1000:.1f} ms"
    )


async def _delete_stream(url: str, name: str) -> None:
    client = await nats.connect(url)
    try:
        with contextlib.suppress(Exception):
            await client.jetstream().delete_stream(name)
    finally:
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--database-url")
    parser.add_argument("--nats", help="serve WatchEvents from JetStream at this URL")
    parser.add_argument("--wait-s", type=float, default=120.0)
    asyncio.run(main(parser.parse_args()))
