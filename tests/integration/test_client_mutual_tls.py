"""payments_client's TLS options against the real gRPC listener with mutual TLS: the
client's certificate (read from files) reaches the server, over both channel kinds.
The CA, certificates and listener come from test_grpc_tls.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import payments_client
import pytest

from tests.integration.test_grpc_tls import WHOAMI, Authority, _authority, _listen


@pytest.fixture
def ca() -> Authority:
    return _authority("client-test-ca")


def _client_tls(tmp_path: Path, ca: Authority, common_name: str) -> payments_client.TlsOptions:
    issued = ca.issue(common_name, server=False)
    (tmp_path / "ca.pem").write_bytes(ca.pem)
    (tmp_path / "client.crt").write_bytes(issued.cert_pem)
    (tmp_path / "client.key").write_bytes(issued.key_pem)
    return payments_client.TlsOptions.from_files(
        tmp_path / "ca.pem", tmp_path / "client.crt", tmp_path / "client.key"
    )


async def test_the_clients_certificate_reaches_the_server(tmp_path: Path, ca: Authority) -> None:
    listener = await _listen(tmp_path, ca, mutual=True)
    tls = _client_tls(tmp_path, ca, "svc-orders")
    try:
        async with payments_client.aio_channel(listener.target, tls=tls) as channel:
            subject = (await channel.unary_unary(WHOAMI)(b"")).decode()
        assert "svc-orders" in subject

        def blocking_call() -> bytes:
            with payments_client.channel(listener.target, tls=tls) as sync_channel:
                answer: bytes = sync_channel.unary_unary(WHOAMI)(b"")
                return answer

        assert "svc-orders" in (await asyncio.to_thread(blocking_call)).decode()
    finally:
        await listener.server.stop(drain_s=0, grace_s=0)
