"""JwtVerifier: algorithm allowlist and key families, required claims, leeway, scopes, cache."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from payment_service.config import ConfigError, Settings
from payment_service.domain.errors import Unauthenticated
from payment_service.security.jwt_verifier import JwtVerifier, VerifierKeys
from payment_service.security.tokens import TokenMintingError, mint_token

SECRET = "unit-test-hs256-secret-0123456789abcdef"
ISSUER = "issuer-under-test"
AUDIENCE = "payment-service"


def _pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _settings(
    algorithms: Sequence[str] = ("HS256",),
    public_keys: Sequence[str] = (),
    secret: str | None = SECRET,
    **extra: Any,
) -> Settings:
    return Settings(
        auth_algorithms=list(algorithms),
        auth_public_keys=list(public_keys),
        auth_hs256_secret=secret,
        auth_issuer=ISSUER,
        auth_audience=AUDIENCE,
        auth_leeway_s=extra.pop("leeway", 10),
        **extra,
    )


def _verifier(**kwargs: Any) -> JwtVerifier:
    return JwtVerifier.from_settings(_settings(**kwargs))


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "orders-service",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "scope": "payments:read payments:write",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _token(key: Any = SECRET, algorithm: str = "HS256", **overrides: Any) -> str:
    return jwt.encode(_claims(**overrides), key, algorithm=algorithm)


def _reason(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(Unauthenticated) as raised:
        verifier.verify(token)
    return raised.value.reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_signed_with(key: bytes, claims: dict[str, Any]) -> str:
    """Hand-made HS256 token (PyJWT itself refuses to use a PEM key as an HMAC secret)."""
    signing_input = (
        _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        + "."
        + _b64(json.dumps(claims).encode())
    )
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


# --- accepted tokens ---------------------------------------------------------------------


def test_valid_hs256_token_gives_the_caller() -> None:
    caller = _verifier().verify(_token(account_id="acct_1"))
    assert caller.sub == "orders-service"
    assert caller.scopes == {"payments:read", "payments:write"}
    assert caller.account_id == "acct_1"


@pytest.mark.parametrize("claim", ["scp", "scopes"])
def test_scopes_may_come_as_a_list(claim: str) -> None:
    caller = _verifier().verify(_token(scope=None, **{claim: ["refunds:read", "refunds:write"]}))
    assert caller.scopes == {"refunds:read", "refunds:write"}


def test_token_without_scopes_has_none() -> None:
    assert _verifier().verify(_token(scope=None)).scopes == frozenset()


def test_rs256_token_verifies_with_any_configured_rsa_key(
    rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    verifier = _verifier(algorithms=["RS256"], public_keys=[_pem(other_rsa_key), _pem(rsa_key)])
    assert verifier.verify(_token(rsa_key, "RS256")).sub == "orders-service"


def test_es256_token_verifies_with_ec_key(ec_key: ec.EllipticCurvePrivateKey) -> None:
    verifier = _verifier(algorithms=["ES256"], public_keys=[_pem(ec_key)])
    assert verifier.verify(_token(ec_key, "ES256")).sub == "orders-service"


def test_expired_within_leeway_is_accepted() -> None:
    now = int(time.time())
    assert _verifier(leeway=30).verify(_token(exp=now - 5)).sub == "orders-service"


# --- refused tokens ----------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "Bearer x.y.z"])
def test_malformed_token_is_invalid(token: str) -> None:
    assert _reason(_verifier(), token) == "TOKEN_INVALID"


def test_alg_none_is_refused() -> None:
    token = jwt.encode(_claims(), None, algorithm="none")
    assert _reason(_verifier(), token) == "TOKEN_INVALID"


def test_algorithm_outside_allowlist_is_refused() -> None:
    assert _reason(_verifier(), _token(SECRET + "x" * 40, "HS512")) == "TOKEN_INVALID"


def test_wrong_secret_is_invalid() -> None:
    assert _reason(_verifier(), _token("another-secret-that-is-long-enough-000")) == "TOKEN_INVALID"


def test_rs256_signed_by_an_unknown_key_is_invalid(
    rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    verifier = _verifier(algorithms=["RS256"], public_keys=[_pem(rsa_key)])
    assert _reason(verifier, _token(other_rsa_key, "RS256")) == "TOKEN_INVALID"


@pytest.mark.parametrize("algorithms", [["RS256"], ["HS256", "RS256"]])
def test_hs256_signed_with_the_rsa_public_key_is_refused(
    rsa_key: rsa.RSAPrivateKey, algorithms: list[str]
) -> None:
    # Algorithm confusion: the attacker knows the public key and uses it as an HMAC secret.
    pem = _pem(rsa_key)
    verifier = _verifier(algorithms=algorithms, public_keys=[pem])
    assert _reason(verifier, _hs256_signed_with(pem.encode(), _claims())) == "TOKEN_INVALID"


def test_hs_token_without_configured_secret_is_refused() -> None:
    assert _reason(_verifier(secret=None), _token()) == "TOKEN_INVALID"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "someone-else"}, "TOKEN_INVALID"),
        ({"iss": "evil-issuer"}, "TOKEN_INVALID"),
        ({"exp": int(time.time()) - 3600}, "TOKEN_EXPIRED"),
        ({"nbf": int(time.time()) + 3600}, "TOKEN_INVALID"),
        ({"sub": ""}, "TOKEN_INVALID"),
        ({"account_id": 42}, "TOKEN_INVALID"),
    ],
)
def test_bad_claims_are_refused(overrides: dict[str, Any], reason: str) -> None:
    assert _reason(_verifier(), _token(**overrides)) == reason


@pytest.mark.parametrize("claim", ["exp", "iss", "aud", "sub"])
def test_required_claims(claim: str) -> None:
    claims = _claims()
    del claims[claim]
    assert _reason(_verifier(), jwt.encode(claims, SECRET, algorithm="HS256")) == "TOKEN_INVALID"


def test_bad_public_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"auth_public_keys\[0\]"):
        VerifierKeys.from_settings(_settings(algorithms=["RS256"], public_keys=["not a pem"]))


# --- cache -------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _counting(verifier: JwtVerifier, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    decoded: list[str] = []
    original = verifier._jwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        decoded.append(token)
        return original(token, *args, **kwargs)

    monkeypatch.setattr(verifier._jwt, "decode", counting_decode)
    return decoded


def _cached_verifier(clock: _Clock, cache_size: int = 100) -> JwtVerifier:
    settings = _settings(leeway=10)
    return JwtVerifier(
        keys=VerifierKeys.from_settings(settings),
        algorithms=settings.auth_algorithms,
        issuer=ISSUER,
        audience=AUDIENCE,
        leeway_s=10,
        cache_size=cache_size,
        clock=clock,
    )


def test_repeated_token_is_verified_once_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    verifier = _cached_verifier(clock)
    decoded = _counting(verifier, monkeypatch)
    token = _token(exp=int(clock.now) + 60)
    first = verifier.verify(token)
    assert verifier.verify(token) is first
    assert len(decoded) == 1
    clock.now += 60 + 10 + 1  # past exp + leeway: the cache entry is dropped
    verifier.verify(token)  # PyJWT uses real time, so the token still verifies afresh
    assert len(decoded) == 2


def test_failures_are_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = _cached_verifier(_Clock())
    decoded = _counting(verifier, monkeypatch)
    bad = _token(aud="someone-else")
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            verifier.verify(bad)
    assert len(decoded) == 2


def test_cache_is_bounded() -> None:
    verifier = _cached_verifier(_Clock(), cache_size=5)
    for index in range(20):
        verifier.verify(_token(sub=f"caller-{index}"))
        assert len(verifier._cache) <= 5


# --- minting -----------------------------------------------------------------------------


def test_minted_token_verifies_with_the_same_settings() -> None:
    settings = _settings()
    token = mint_token(
        settings,
        sub="ops",
        scopes=["invoices:read", "invoices:write"],
        account_id="acct_9",
        ttl_s=120,
    )
    caller = JwtVerifier.from_settings(settings).verify(token)
    assert (caller.sub, caller.scopes, caller.account_id) == (
        "ops",
        {"invoices:read", "invoices:write"},
        "acct_9",
    )
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert claims["exp"] - claims["iat"] == 120


def test_minting_needs_a_secret() -> None:
    with pytest.raises(TokenMintingError, match="auth_hs256_secret"):
        mint_token(_settings(secret=None), sub="ops", scopes=["payments:read"])
