"""TLS and mutual TLS on the real gRPC listener: certificates made here with
cryptography, clients from grpcio. A client without a valid certificate is refused,
the caller's certificate subject is readable, and rotated files serve new connections
without a restart."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from payment_service.api.grpc.server import GrpcServer
from payment_service.api.grpc.services import ServiceBinding
from payment_service.api.grpc.tls import certificate_identity
from payment_service.config import ConfigError, Settings, load_settings
from tests.support.stack import stack_settings

WHOAMI = "/test.Identity/WhoAmI"


@dataclass
class Issued:
    key_pem: bytes
    cert_pem: bytes


@dataclass
class Authority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, common_name: str, *, server: bool) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
        )
        if server:
            names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return Issued(key_pem, cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "example"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _authority(name: str) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, cert)


def _identity_binding() -> ServiceBinding:
    """A bare method answering with the caller's certificate subject."""

    async def who_am_i(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        return (certificate_identity(context.auth_context()) or "").encode()

    handler = grpc.method_handlers_generic_handler(
        "test.Identity", {"WhoAmI": grpc.unary_unary_rpc_method_handler(who_am_i)}
    )
    return ServiceBinding(
        "test.Identity", lambda server: server.add_generic_rpc_handlers([handler])
    )


@dataclass
class Listener:
    server: GrpcServer
    files: Path
    target: str


async def _listen(tmp_path: Path, ca: Authority, *, mutual: bool, **extra: Any) -> Listener:
    issued = ca.issue("payment-service", server=True)
    (tmp_path / "tls.key").write_bytes(issued.key_pem)
    (tmp_path / "tls.crt").write_bytes(issued.cert_pem)
    (tmp_path / "clients.crt").write_bytes(ca.pem)
    settings = stack_settings(
        "sqlite+aiosqlite:///unused.db",
        "http://127.0.0.1:1",
        grpc_tls_cert_file=str(tmp_path / "tls.crt"),
        grpc_tls_key_file=str(tmp_path / "tls.key"),
        grpc_tls_client_ca_file=str(tmp_path / "clients.crt") if mutual else None,
        **extra,
    )
    server = GrpcServer(settings, interceptors=[], bindings=[_identity_binding()])
    await server.start()
    return Listener(server, tmp_path, f"127.0.0.1:{server.port}")


@pytest_asyncio.fixture
async def ca() -> AsyncIterator[Authority]:
    yield _authority("test-ca")


async def _check(target: str, credentials: grpc.ChannelCredentials | None) -> int:
    if credentials is None:
        channel = grpc.aio.insecure_channel(target)
    else:
        channel = grpc.aio.secure_channel(target, credentials)
    async with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
        return int(answer.status)


def _client(ca: Authority, issued: Issued | None = None) -> grpc.ChannelCredentials:
    if issued is None:
        return grpc.ssl_channel_credentials(root_certificates=ca.pem)
    return grpc.ssl_channel_credentials(
        root_certificates=ca.pem, private_key=issued.key_pem, certificate_chain=issued.cert_pem
    )


async def test_tls_serves_tls_clients_only(tmp_path: Path, ca: Authority) -> None:
    listener = await _listen(tmp_path, ca, mutual=False)
    try:
        assert await _check(listener.target, _client(ca)) == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as plaintext:
            await _check(listener.target, None)
        assert plaintext.value.code() == grpc.StatusCode.UNAVAILABLE
        assert listener.server.tls
    finally:
        await listener.server.stop(drain_s=0, grace_s=0)


async def test_mutual_tls_refuses_clients_without_a_valid_certificate(
    tmp_path: Path, ca: Authority
) -> None:
    listener = await _listen(tmp_path, ca, mutual=True)
    stranger_ca = _authority("another-ca")
    try:
        good = _client(ca, ca.issue("orders", server=False))
        assert await _check(listener.target, good) == health_pb2.HealthCheckResponse.SERVING
        for refused in (_client(ca), _client(ca, stranger_ca.issue("orders", server=False))):
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await _check(listener.target, refused)
            assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await listener.server.stop(drain_s=0, grace_s=0)


async def test_the_callers_certificate_subject_is_known(tmp_path: Path, ca: Authority) -> None:
    listener = await _listen(tmp_path, ca, mutual=True)
    try:
        credentials = _client(ca, ca.issue("svc-orders", server=False))
        async with grpc.aio.secure_channel(listener.target, credentials) as channel:
            who_am_i = channel.unary_unary(WHOAMI)
            subject = (await who_am_i(b"", timeout=5)).decode()
        assert "svc-orders" in subject
        assert "example" in subject
    finally:
        await listener.server.stop(drain_s=0, grace_s=0)


async def test_a_rotated_certificate_serves_new_connections_without_a_restart(
    tmp_path: Path, ca: Authority
) -> None:
    listener = await _listen(tmp_path, ca, mutual=False, grpc_tls_reload_s=0)
    rotated_ca = _authority("rotated-ca")
    try:
        assert await _check(listener.target, _client(ca)) == health_pb2.HealthCheckResponse.SERVING
        issued = rotated_ca.issue("payment-service", server=True)
        (tmp_path / "tls.key").write_bytes(issued.key_pem)
        (tmp_path / "tls.crt").write_bytes(issued.cert_pem)

        serving = health_pb2.HealthCheckResponse.SERVING
        assert await _check(listener.target, _client(rotated_ca)) == serving
        with pytest.raises(grpc.aio.AioRpcError):
            await _check(listener.target, _client(ca))
    finally:
        await listener.server.stop(drain_s=0, grace_s=0)


def test_half_a_tls_configuration_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_GRPC_TLS_CERT_FILE", "/etc/tls.crt")
    with pytest.raises(ConfigError, match="set both or neither"):
        load_settings(None)


def test_unreadable_certificate_files_are_a_configuration_error(tmp_path: Path) -> None:
    settings = Settings(
        grpc_tls_cert_file=str(tmp_path / "missing.crt"),
        grpc_tls_key_file=str(tmp_path / "missing.key"),
    )
    with pytest.raises(ConfigError, match="cannot read"):
        GrpcServer(settings, interceptors=[], bindings=[])
