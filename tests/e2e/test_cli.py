"""The ``payment-service`` console entry point: token, configuration errors, listen errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from tests.support.server import (
    REPO_ROOT,
    TEST_AUDIENCE,
    TEST_HS256_SECRET,
    TEST_ISSUER,
    server_env,
)


def _run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "payment_service.cli", *args],
        cwd=REPO_ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_token_prints_a_verifiable_token() -> None:
    result = _run(
        "token",
        "--sub",
        "ops",
        "--scope",
        "payments:read refunds:write",
        "--account-id",
        "acct_1",
        "--ttl",
        "90",
        env=server_env(),
    )
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(
        result.stdout.strip(),
        TEST_HS256_SECRET,
        algorithms=["HS256"],
        audience=TEST_AUDIENCE,
        issuer=TEST_ISSUER,
    )
    assert claims["sub"] == "ops"
    assert set(claims["scope"].split()) == {"payments:read", "refunds:write"}
    assert claims["account_id"] == "acct_1"
    assert claims["exp"] - claims["iat"] == 90


def test_token_without_secret_exits_2_with_a_clear_message() -> None:
    result = _run("token", "--sub", "ops", "--scope", "payments:read")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "auth_hs256_secret" in result.stderr


def test_invalid_config_exits_2_with_one_line_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("shutdown_grace_s: -1\n", encoding="utf-8")
    result = _run("serve", "--config", str(config))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "shutdown_grace_s (PAYMENT_SHUTDOWN_GRACE_S)" in lines[0]


def test_secret_never_appears_in_config_errors() -> None:
    result = _run(
        "serve",
        env={"PAYMENT_AUTH_HS256_SECRET": "do-not-print-me-0123456789", "PAYMENT_GRPC_PORT": "-5"},
    )
    assert result.returncode == 2
    assert "do-not-print-me" not in result.stderr + result.stdout


def test_taken_port_exits_1_naming_the_setting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run("serve", env=server_env(grpc_port=str(port)))
    assert result.returncode == 1
    assert "grpc_port" in result.stderr


def test_serve_refuses_a_database_behind_head_with_one_line(tmp_path: Path) -> None:
    empty = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    result = _run("serve", env=server_env(database_url=empty))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "payment-service migrate" in lines[0]
    assert "Traceback" not in result.stderr


def test_serve_without_a_stripe_key_exits_2_naming_the_key() -> None:
    env = server_env()
    del env["PAYMENT_STRIPE_API_KEY"]
    result = _run("serve", env=env)
    assert result.returncode == 2
    assert "stripe_api_key" in result.stderr
    assert "Traceback" not in result.stderr


def test_requests_over_the_configured_size_are_refused() -> None:
    import grpc
    from payments.v1 import payment_service_pb2 as pb
    from payments.v1 import payment_service_pb2_grpc as rpc

    from tests.support.server import ServerProcess, bearer, make_token

    with (
        ServerProcess.start(server_env(grpc_max_receive_message_bytes="2048")) as server,
        grpc.insecure_channel(server.grpc_target) as channel,
    ):
        stub = rpc.PaymentServiceStub(channel)
        big = pb.CreatePaymentRequest(request_id="r", account_id="a", description="x" * 4096)
        with pytest.raises(grpc.RpcError) as raised:
            stub.CreatePayment(big, metadata=bearer(make_token()), timeout=10)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]


def test_serve_without_a_pii_key_exits_2_naming_the_key() -> None:
    env = server_env()
    del env["PAYMENT_PII_ENCRYPTION_KEYS"]
    result = _run("serve", env=env)
    assert result.returncode == 2
    assert "pii_encryption_keys" in result.stderr
    assert "Traceback" not in result.stderr
