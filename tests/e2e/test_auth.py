"""Authentication and scopes over gRPC against the real process."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import grpc
import grpc.aio
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from payments.v1 import payment_service_pb2, payment_service_pb2_grpc

from tests.e2e.conftest import AUTH_LEEWAY_S, error_info
from tests.support.server import TEST_AUDIENCE, TEST_ISSUER, bearer, make_token

GET_PAYMENT = payment_service_pb2.GetPaymentRequest(id="pay_123")


async def _get_payment(channel: grpc.aio.Channel, metadata: Any) -> grpc.aio.AioRpcError:
    stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetPayment(GET_PAYMENT, metadata=metadata, timeout=10)
    return raised.value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return (
        f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.{_b64(signature)}"
    )


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "attacker",
        "iss": TEST_ISSUER,
        "aud": TEST_AUDIENCE,
        "exp": now + 300,
        "scope": "payments:read",
    }
    claims.update(overrides)
    return claims


def _hs256_with_key(key: bytes, claims: dict[str, Any]) -> str:
    header_and_claims = _unsigned_token({"alg": "HS256", "typ": "JWT"}, claims).rsplit(".", 1)[0]
    signature = hmac.new(key, header_and_claims.encode(), hashlib.sha256).digest()
    return f"{header_and_claims}.{_b64(signature)}"


async def test_no_token_is_unauthenticated(channel: grpc.aio.Channel) -> None:
    error = await _get_payment(channel, None)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(error).reason == "TOKEN_MISSING"
    assert error_info(error).domain == "payments.v1"


@pytest.mark.parametrize(
    "metadata",
    [
        (("authorization", "Bearer not-a-jwt"),),
        (("authorization", "Basic dXNlcjpwYXNz"),),
        (("authorization", "Bearer "),),
    ],
    ids=["garbage", "basic-scheme", "empty"],
)
async def test_malformed_authorization_is_unauthenticated(
    channel: grpc.aio.Channel, metadata: Any
) -> None:
    error = await _get_payment(channel, metadata)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(error).reason == "TOKEN_INVALID"


async def test_alg_none_is_unauthenticated(channel: grpc.aio.Channel) -> None:
    token = _unsigned_token({"alg": "none", "typ": "JWT"}, _claims())
    error = await _get_payment(channel, bearer(token))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(error).reason == "TOKEN_INVALID"


async def test_hs256_signed_with_the_rsa_public_key_is_unauthenticated(
    channel: grpc.aio.Channel, rsa_public_pem: str
) -> None:
    # The server allows HS256 and RS256 and knows this public key: the classic confusion attack.
    token = _hs256_with_key(rsa_public_pem.encode(), _claims())
    error = await _get_payment(channel, bearer(token))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(error).reason == "TOKEN_INVALID"


async def test_rs256_token_from_the_key_holder_is_accepted(
    channel: grpc.aio.Channel, rsa_private_key: rsa.RSAPrivateKey
) -> None:
    token = make_token("payments:read", secret=rsa_private_key, algorithm="RS256")
    error = await _get_payment(channel, bearer(token))
    # Past auth: the servicer answers, and no such payment exists.
    assert error.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("token_kwargs", "reason"),
    [
        ({"audience": "another-service"}, "TOKEN_INVALID"),
        ({"issuer": "someone-else"}, "TOKEN_INVALID"),
        ({"ttl_s": -(AUTH_LEEWAY_S + 60)}, "TOKEN_EXPIRED"),
        ({"omit": ["exp"]}, "TOKEN_INVALID"),
        ({"omit": ["sub"]}, "TOKEN_INVALID"),
        ({"secret": "a-different-secret-that-is-long-enough-123"}, "TOKEN_INVALID"),
    ],
    ids=[
        "wrong-aud",
        "wrong-iss",
        "expired-past-leeway",
        "missing-exp",
        "missing-sub",
        "wrong-secret",
    ],
)
async def test_bad_tokens_are_unauthenticated(
    channel: grpc.aio.Channel, token_kwargs: dict[str, Any], reason: str
) -> None:
    error = await _get_payment(channel, bearer(make_token("payments:read", **token_kwargs)))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(error).reason == reason


async def test_expired_within_leeway_is_accepted(channel: grpc.aio.Channel) -> None:
    error = await _get_payment(channel, bearer(make_token("payments:read", ttl_s=-1)))
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_missing_scope_is_permission_denied(channel: grpc.aio.Channel) -> None:
    error = await _get_payment(channel, bearer(make_token("payments:write refunds:read")))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    info = error_info(error)
    assert info.reason == "MISSING_SCOPE"
    assert info.metadata["scope"] == "payments:read"


async def test_write_scope_is_checked_per_method(channel: grpc.aio.Channel) -> None:
    stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CreatePayment(
            payment_service_pb2.CreatePaymentRequest(request_id="r1"),
            metadata=bearer(make_token("payments:read")),
            timeout=10,
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(raised.value).metadata["scope"] == "payments:write"
