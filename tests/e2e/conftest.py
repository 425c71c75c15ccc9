"""A shared server process for the e2e tests, its RSA key, channels and status helpers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import grpc
import grpc.aio
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from tests.support.private_servers import (  # noqa: F401  (shared fixtures)
    private_postgres,
    private_redis,
)
from tests.support.server import ServerProcess, server_env

AUTH_LEEWAY_S = 5


@pytest.fixture(scope="session")
def rsa_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def rsa_public_pem(rsa_private_key: rsa.RSAPrivateKey) -> str:
    return (
        rsa_private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="session")
def server(rsa_public_pem: str) -> Iterator[ServerProcess]:
    """One server for read-only checks: HS256 and RS256 allowed, so algorithm confusion is tested
    where it would matter (an HS secret and an RSA public key both configured)."""
    env = server_env(
        auth_algorithms='["HS256", "RS256"]',
        auth_public_keys=json.dumps([rsa_public_pem]),
        auth_leeway_s=str(AUTH_LEEWAY_S),
    )
    with ServerProcess.start(env) as process:
        yield process


@pytest.fixture(scope="session")
async def channel(server: ServerProcess) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(server.grpc_target) as open_channel:
        yield open_channel


def rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    status = rpc_status.from_call(error)
    assert status is not None, f"no google.rpc.Status details on {error.code()}: {error.details()}"
    return status


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    for detail in rich_status(error).details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    raise AssertionError("no ErrorInfo in the status details")
