"""The floor under the write path: CreatePayment + ConfirmPayment with the least work
any service obeying DESIGN.md's write rules does, and nothing else.

``write_path.py --floor`` runs this server beside the real one (pinned to the same
core, alternating rounds) to tell how much of the pair's CPU is our service and how
much is the stack every Python service on grpc.aio + psycopg + redis-py + stripe-python
pays before doing anything of its own. Per pair it does:

- CreatePayment: the outbound budget (one Redis EVALSHA); the PENDING row, its audit
  row and its outbox event committed before Stripe is called (one pipeline: BEGIN,
  3 INSERTs, COMMIT); Stripe's create (stripe-python ``raw_request_async``, the
  service's parameters and idempotency key); Stripe's answer written over the row with
  its audit row and event (one pipeline); the Payment message.
- ConfirmPayment: the budget (one EVALSHA); the row read under lock and the request's
  lease written (one pipeline); Stripe's confirm; the answer written (one pipeline).

That is 4 PostgreSQL round trips, 2 Redis, 2 Stripe and 2 gRPC calls per pair, each
transaction durable before the next step, against the service's 14 and 4. It leaves
out what the service does besides: no authentication, no validation, no replay of a
retried request, no cache, no logs, metrics or traces. Its CPU per pair is therefore
a floor, not a design: the service cannot get below it on this stack.

    python bench/write_floor.py --database postgresql://... --redis redis://... \
        --stripe http://127.0.0.1:PORT     # prints FLOOR_LISTENING <port>
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
from typing import Any

import aiohttp
import grpc.aio
import psycopg
import redis.asyncio as aioredis
import stripe
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc as rpc

SCHEMA = """
drop table if exists floor_payments, floor_audit, floor_outbox, floor_leases;
create table floor_payments (
    id text primary key, account_id text not null, amount bigint not null,
    currency text not null, state text not null, stripe_id text, version int not null,
    stripe_json jsonb);
create table floor_audit (id bigserial primary key, object_id text, action text,
    at timestamptz default now(), detail jsonb);
create table floor_outbox (id bigserial primary key, object_id text, kind text,
    payload jsonb);
create table floor_leases (request_id text primary key, object_id text,
    at timestamptz default now());
"""

# GCRA in one key, as the service's limiter does for its budgets.
BUDGET = """
local now = tonumber(ARGV[1]); local interval = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
redis.call('SET', KEYS[1], tat + interval, 'PX', 60000)
return 1
"""

STATES = {"succeeded": pb.PAYMENT_STATE_SUCCEEDED, "requires_confirmation": 0}


class FloorPayments(rpc.PaymentServiceServicer):
    def __init__(self, db: psycopg.AsyncConnection[Any], cache: Any, client: Any) -> None:
        self.db, self.cache, self.stripe = db, cache, client
        self.lock = asyncio.Lock()
        self.budget = ""
        self.customer = ""

    async def setup(self) -> None:
        self.budget = await self.cache.script_load(BUDGET)
        created = await self.stripe.raw_request_async("post", "/v1/customers", metadata={"f": "1"})
        self.customer = created.data["id"]

    async def _take_budget(self) -> None:
        loop = asyncio.get_running_loop()
        await self.cache.evalsha(self.budget, 1, "floor:budget", int(loop.time() * 1000), 1)

    async def _write(self, statements: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        async with self.lock, self.db.pipeline():
            cursors = []
            for sql, values in statements:
                cursor = self.db.cursor()
                await cursor.execute(sql, values)
                cursors.append(cursor)
            await self.db.commit()
        return [await c.fetchone() if c.description else None for c in cursors]

    async def _answered(self, payment_id: str, version: int, intent: dict[str, Any]) -> None:
        data = json.dumps(intent)
        event = json.dumps({"id": payment_id, "state": intent["status"]})
        await self._write(
            [
                (
                    "update floor_payments set state = %s, stripe_id = %s, stripe_json = %s,"
                    " version = version + 1 where id = %s and version = %s",
                    (intent["status"], intent["id"], data, payment_id, version),
                ),
                (
                    "insert into floor_audit (object_id, action, detail) values (%s, %s, %s)",
                    (payment_id, "stripe_answer", event),
                ),
                (
                    "insert into floor_outbox (object_id, kind, payload) values (%s, %s, %s)",
                    (payment_id, "payment.updated", event),
                ),
            ]
        )

    def _message(self, payment_id: str, account: str, intent: dict[str, Any]) -> pb.Payment:
        return pb.Payment(
            id=payment_id,
            account_id=account,
            amount=intent["amount"],
            currency_code=intent["currency"],
            state=STATES.get(intent["status"], pb.PAYMENT_STATE_PROCESSING),
            stripe_payment_intent_id=intent["id"],
            stripe_payment_method_id=intent.get("payment_method") or "",
            stripe_customer_id=self.customer,
        )

    async def CreatePayment(
        self, request: pb.CreatePaymentRequest, context: Any
    ) -> pb.CreatePaymentResponse:
        payment_id = "pay_" + secrets.token_hex(12)
        await self._take_budget()
        event = json.dumps({"id": payment_id, "state": "pending"})
        await self._write(
            [
                (
                    "insert into floor_payments (id, account_id, amount, currency, state,"
                    " version) values (%s, %s, %s, %s, 'pending', 1)",
                    (payment_id, request.account_id, request.amount, request.currency_code),
                ),
                (
                    "insert into floor_audit (object_id, action, detail) values (%s, %s, %s)",
                    (payment_id, "create", event),
                ),
                (
                    "insert into floor_outbox (object_id, kind, payload) values (%s, %s, %s)",
                    (payment_id, "payment.created", event),
                ),
            ]
        )
        answer = await self.stripe.raw_request_async(
            "post",
            "/v1/payment_intents",
            amount=request.amount,
            currency=request.currency_code,
            capture_method="automatic",
            metadata={"payment_id": payment_id},
            expand=["latest_charge"],
            customer=self.customer,
            payment_method=request.stripe_payment_method_id,
            idempotency_key=f"{payment_id}:create",
        )
        await self._answered(payment_id, 1, answer.data)
        return pb.CreatePaymentResponse(
            payment=self._message(payment_id, request.account_id, answer.data)
        )

    async def ConfirmPayment(
        self, request: pb.ConfirmPaymentRequest, context: Any
    ) -> pb.ConfirmPaymentResponse:
        await self._take_budget()
        row, _ = await self._write(
            [
                (
                    "select account_id, stripe_id, version from floor_payments"
                    " where id = %s for update",
                    (request.id,),
                ),
                (
                    "insert into floor_leases (request_id, object_id) values (%s, %s)",
                    (request.request_id, request.id),
                ),
            ]
        )
        account, stripe_id, version = row
        answer = await self.stripe.raw_request_async(
            "post",
            f"/v1/payment_intents/{stripe_id}/confirm",
            expand=["latest_charge"],
            idempotency_key=f"{request.id}:confirm:{request.request_id}",
        )
        await self._answered(request.id, version, answer.data)
        return pb.ConfirmPaymentResponse(payment=self._message(request.id, account, answer.data))


async def serve(args: argparse.Namespace) -> None:
    db = await psycopg.AsyncConnection.connect(args.database)
    await db.execute(SCHEMA)
    await db.commit()
    http = stripe.AIOHTTPClient(timeout=aiohttp.ClientTimeout(total=20))
    base = {"api": args.stripe, "connect": args.stripe, "files": args.stripe}
    client = stripe.StripeClient("sk_test_floor", base_addresses=base, http_client=http)  # type: ignore[arg-type]
    servicer = FloorPayments(db, aioredis.Redis.from_url(args.redis), client)
    await servicer.setup()
    server = grpc.aio.server()
    rpc.add_PaymentServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"FLOOR_LISTENING {port}", flush=True)
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--stripe", required=True)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
