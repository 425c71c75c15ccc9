#!/usr/bin/env python3
"""Container health check over the standard gRPC health protocol.

Usage: ``python tools/grpc_healthcheck.py [SERVICE]``

Calls ``grpc.health.v1.Health/Check`` on ``127.0.0.1:${PAYMENT_GRPC_PORT:-50051}``
for SERVICE (default ``""``: the server as a whole) with a 2 s deadline. Exits 0
only when the answer is SERVING, 1 otherwise, printing a one-line reason. Needs
only the standard library, grpcio and grpcio-health-checking.
"""

from __future__ import annotations

import os
import sys

import grpc
from grpc_health.v1 import health_pb2

DEADLINE_S = 2.0
DEFAULT_PORT = "50051"
CHECK_METHOD = "/grpc.health.v1.Health/Check"


def _target() -> str:
    raw = os.environ.get("PAYMENT_GRPC_PORT", "").strip() or DEFAULT_PORT
    if not raw.isdigit() or not 0 < int(raw) <= 65535:
        raise ValueError(f"PAYMENT_GRPC_PORT is not a usable port: {raw!r}")
    return f"127.0.0.1:{int(raw)}"


def check(target: str, service: str = "", timeout_s: float = DEADLINE_S) -> tuple[bool, str]:
    """Return (serving, one-line reason) for ``service`` on ``target``."""
    label = repr(service) if service else "server"
    # Never route a loopback probe through an HTTP(S) proxy taken from the environment.
    options = [("grpc.enable_http_proxy", 0)]
    with grpc.insecure_channel(target, options=options) as channel:
        # A typed multicallable: the health stub's type hints lack its methods.
        check_rpc = channel.unary_unary(
            CHECK_METHOD,
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        try:
            response = check_rpc(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.RpcError as exc:
            if not isinstance(exc, grpc.Call):
                return False, f"{label} at {target}: {type(exc).__name__}"
            lines = (exc.details() or "").splitlines()
            suffix = f": {lines[0]}" if lines else ""
            return False, f"{label} at {target}: {exc.code().name}{suffix}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    return response.status == health_pb2.HealthCheckResponse.SERVING, (
        f"{label} at {target}: {status}"
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        print("usage: grpc_healthcheck.py [SERVICE]", file=sys.stderr)
        return 1
    try:
        target = _target()
    except ValueError as exc:
        print(f"unhealthy: {exc}")
        return 1
    serving, reason = check(target, args[0] if args else "")
    print(("healthy: " if serving else "unhealthy: ") + reason)
    return 0 if serving else 1


if __name__ == "__main__":
    sys.exit(main())
