"""Benchmark: cached GetPayment against a no-op RPC on the real server process, with h2load.

For each backend (``sqlite``: SQLite + in-memory cache; ``postgres``: a PostgreSQL
database of its own + Redis) it starts localstripe and ``payment-service serve`` (JSON
access log on) pinned to core 0, makes one succeeded payment, warms the cache, then
alternates h2load rounds (pinned to core 1) of

- ``noop``: ``grpc.health.v1.Health/Check``. The interceptor passes it through (one dict
  lookup) and the health servicer answers from a dict: the cheapest call the server
  has, only grpc.aio's own per-call work. It is not counted on /metrics (the interceptor
  does not see it), so its successes are the answers that carried a body (h2load's data
  bytes / 7, the size of a framed SERVING answer);
- ``get``: ``PaymentService/GetPayment`` of that payment (JWT, scope, edge checks, cache
  hit, one serialization, the access log line), its successes counted from the server's
  ``grpc_server_handled_total{code="OK"}``;

and prints each round, the medians and the ratio get/noop last.

    .venv/bin/python bench/get_payment.py [--backend sqlite --backend postgres]
        [--rounds 3] [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import grpc.aio
from grpc_health.v1 import health_pb2
from harness import (
    Backend,
    LoadResult,
    Server,
    alternate,
    h2load,
    profiled,
    report,
    summarize_profile,
    token,
    write_body,
)
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc as rpc

GET = "/payments.v1.PaymentService/GetPayment"
CHECK = "/grpc.health.v1.Health/Check"
SERVING_FRAME = 7  # 5-byte prefix + field 1 = SERVING


async def make_payment(target: str, bearer: str) -> str:
    metadata = (("authorization", f"Bearer {bearer}"),)
    async with grpc.aio.insecure_channel(target) as channel:
        payments = rpc.PaymentServiceStub(channel)
        await payments.AttachPaymentMethod(
            pb.AttachPaymentMethodRequest(
                request_id="bench-pm",
                account_id="acct_bench",
                stripe_payment_method_id="pm_card_visa",
            ),
            metadata=metadata,
        )
        created = await payments.CreatePayment(
            pb.CreatePaymentRequest(
                request_id="bench-pay",
                account_id="acct_bench",
                amount=1050,
                currency_code="usd",
                confirm=True,
            ),
            metadata=metadata,
        )
        payment_id = str(created.payment.id)
        for _ in range(3):  # the first Get fills the cache
            await payments.GetPayment(pb.GetPaymentRequest(id=payment_id), metadata=metadata)
        return payment_id


def noop_round(server: Server, body: Path, requests: int) -> LoadResult:
    result = h2load(server, CHECK, body, requests=requests)
    answered = result.data_bytes // SERVING_FRAME
    return LoadResult(
        result.seconds,
        result.responses_2xx,
        result.data_bytes,
        ok=float(answered),
        errors=float(result.responses_2xx - answered),
    )


def run_backend(
    backend_name: str, rounds: int, requests: int, profile: Path | None
) -> dict[str, float]:
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="bench-get-"))
    backend = Backend.named(backend_name, workdir)
    with Server.start(backend, workdir=workdir) as server:
        bearer = token(["payments:read", "payments:write"])
        payment_id = asyncio.run(make_payment(server.target, bearer))
        get_body = write_body(workdir / "get.bin", pb.GetPaymentRequest(id=payment_id))
        check_body = write_body(workdir / "check.bin", health_pb2.HealthCheckRequest())
        print(f"{backend.name}: server pid {server.pid}, {requests} calls per round", flush=True)
        # Warm-up: both paths once, not counted.
        h2load(server, GET, get_body, bearer, requests=2000)
        h2load(server, CHECK, check_body, requests=2000)
        if profile is not None:
            out = profile / f"get_payment-{backend_name}.txt"
            with profiled(server, out, seconds=8):
                h2load(server, GET, get_body, bearer, requests=requests)
            print(summarize_profile(out), flush=True)
        results = alternate(
            {
                "noop": lambda: noop_round(server, check_body, requests),
                "get": lambda: h2load(
                    server, GET, get_body, bearer, requests=requests, count_method=GET
                ),
            },
            rounds,
        )
        return report(
            f"{backend.name}: cached GetPayment vs health Check", results, [("get", "noop")]
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgres"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--profile", type=Path, help="py-spy the server into this directory")
    args = parser.parse_args()
    ratios = {
        name: run_backend(name, args.rounds, args.requests, args.profile)
        for name in args.backend or ("sqlite", "postgres")
    }
    print()
    for name, found in ratios.items():
        for label, value in found.items():
            print(f"{name}: {label} = {value:.2f}")


if __name__ == "__main__":
    main()
