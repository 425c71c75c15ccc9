"""JWKS keys against a real local JWKS server (aiohttp on 127.0.0.1): a kid picks the key,
a new key is taken without a restart, unknown kids cost one rate-limited fetch, an outage
keeps the held keys for their lifespan, and a JWKS never lends an HMAC secret."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from payment_service.domain.errors import Unauthenticated
from payment_service.security.jwks import JwksConfig, JwksKeys
from payment_service.security.jwt_verifier import JwtVerifier, VerifierKeys
from tests.e2e.test_webhooks_delivery import wait_for

ISSUER = "jwks-issuer"
AUDIENCE = "payment-service"
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class JwksServer:
    """Serves whatever ``keys`` holds; counts the fetches; can be made to fail."""

    keys: dict[str, PrivateKey] = field(default_factory=dict)
    extra: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False
    hits: int = 0
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.failing:
            return web.Response(status=503)
        entries = [_public_jwk(kid, key) for kid, key in self.keys.items()]
        return web.json_response({"keys": entries + self.extra})


def _public_jwk(kid: str, key: PrivateKey) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        entry = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    else:
        entry = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    return {**entry, "kid": kid, "use": "sig"}


@pytest_asyncio.fixture
async def jwks_server() -> AsyncIterator[JwksServer]:
    server = JwksServer()
    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}/.well-known/jwks.json"
    try:
        yield server
    finally:
        await runner.cleanup()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _token(key: PrivateKey, kid: str, *, sub: str = "svc-orders", algorithm: str = "") -> str:
    algorithm = algorithm or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
    claims = {
        "sub": sub,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 600,
        "scope": "payments:read",
    }
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def _verifier(jwks: JwksKeys, *, hmac_secret: bytes | None = None) -> JwtVerifier:
    return JwtVerifier(
        keys=VerifierKeys(hmac_secret=hmac_secret, rsa_keys=(), ec_keys=()),
        algorithms=["RS256", "ES256", "HS256"],
        issuer=ISSUER,
        audience=AUDIENCE,
        leeway_s=0,
        cache_size=0,  # every call checks its signature: the key set is what is tested
        jwks=jwks,
    )


def _keys(server: JwksServer, clock: Clock | None = None, **config: float) -> JwksKeys:
    settings = JwksConfig(url=server.url, **config)
    return JwksKeys(settings, clock=clock or time.monotonic)


async def test_the_kid_picks_the_key_and_no_rpc_fetches(jwks_server: JwksServer) -> None:
    rsa_key, ec_key = _rsa(), ec.generate_private_key(ec.SECP256R1())
    jwks_server.keys = {"r1": rsa_key, "e1": ec_key}
    keys = _keys(jwks_server)
    await keys.start()
    try:
        verifier = _verifier(keys)
        for number in range(50):
            assert (await verifier.authenticate(_token(rsa_key, "r1", sub=f"a{number}"))).sub
            assert (await verifier.authenticate(_token(ec_key, "e1", sub=f"b{number}"))).sub
        # The right key under the wrong kid does not verify.
        with pytest.raises(Unauthenticated):
            await verifier.authenticate(_token(rsa_key, "e1"))
    finally:
        await keys.stop()
    assert jwks_server.hits == 1


async def test_a_new_key_is_taken_without_a_restart(jwks_server: JwksServer) -> None:
    jwks_server.keys = {"old": _rsa()}
    keys = _keys(jwks_server)
    await keys.start()
    try:
        rotated = _rsa()
        jwks_server.keys["new"] = rotated

        caller = await _verifier(keys).authenticate(_token(rotated, "new"))

        assert caller.sub == "svc-orders"
        assert jwks_server.hits == 2
    finally:
        await keys.stop()


async def test_unknown_kids_cost_one_fetch_per_interval(jwks_server: JwksServer) -> None:
    jwks_server.keys = {"known": _rsa()}
    clock = Clock()
    keys = _keys(jwks_server, clock, unknown_kid_interval_s=30)
    await keys.start()
    try:
        verifier = _verifier(keys)
        stranger = _rsa()
        tokens = [_token(stranger, f"forged-{n}") for n in range(40)]

        results = await asyncio.gather(
            *(verifier.authenticate(t) for t in tokens), return_exceptions=True
        )

        assert all(isinstance(r, Unauthenticated) for r in results)
        assert jwks_server.hits == 2  # the start, and one early refresh for all of them
        clock.now += 31
        with pytest.raises(Unauthenticated):
            await verifier.authenticate(_token(stranger, "forged-later"))
        assert jwks_server.hits == 3
    finally:
        await keys.stop()


async def test_an_outage_keeps_the_held_keys_for_their_lifespan(jwks_server: JwksServer) -> None:
    signer = _rsa()
    jwks_server.keys = {"k1": signer}
    clock = Clock()
    keys = _keys(jwks_server, clock, key_lifespan_s=3600)
    await keys.start()
    try:
        verifier = _verifier(keys)
        jwks_server.failing = True
        assert not await keys.refresh()

        clock.now += 3599
        assert (await verifier.authenticate(_token(signer, "k1"))).sub == "svc-orders"
        clock.now += 2
        with pytest.raises(Unauthenticated):
            await verifier.authenticate(_token(signer, "k1"))

        jwks_server.failing = False
        clock.now += 60  # past the unknown-kid interval: the next token may ask again
        assert (await verifier.authenticate(_token(signer, "k1"))).sub == "svc-orders"
    finally:
        await keys.stop()


async def test_a_key_the_issuer_dropped_stops_working(jwks_server: JwksServer) -> None:
    dropped = _rsa()
    jwks_server.keys = {"dropped": dropped, "kept": _rsa()}
    keys = _keys(jwks_server)
    await keys.start()
    try:
        del jwks_server.keys["dropped"]
        assert await keys.refresh()

        with pytest.raises(Unauthenticated):
            await _verifier(keys).authenticate(_token(dropped, "dropped"))
    finally:
        await keys.stop()


async def test_a_jwks_never_lends_an_hmac_secret(jwks_server: JwksServer) -> None:
    secret = b"a-shared-secret-that-a-jwks-must-not-supply-0123"
    oct_key = jwt.utils.base64url_encode(secret).decode()
    jwks_server.extra = [
        {"kty": "oct", "kid": "sym", "k": oct_key},
        {**_public_jwk("enc", _rsa()), "use": "enc"},
        {"kty": "RSA", "kid": "broken", "n": "not-base64!", "e": "AQAB"},
    ]
    keys = _keys(jwks_server)
    await keys.start()
    try:
        forged = jwt.encode(
            {"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60},
            secret,
            algorithm="HS256",
            headers={"kid": "sym"},
        )
        with pytest.raises(Unauthenticated):
            await _verifier(keys).authenticate(forged)
        assert keys.find("sym") == ()
        assert keys.find("enc") == ()
        assert keys.find("broken") == ()
    finally:
        await keys.stop()


async def test_the_background_refresh_follows_the_set(jwks_server: JwksServer) -> None:
    jwks_server.keys = {"first": _rsa()}
    keys = _keys(jwks_server, refresh_s=0.05)
    await keys.start()
    try:
        later = _rsa()
        jwks_server.keys = {"later": later}

        async def taken() -> bool:
            return bool(keys.find("later"))

        await wait_for(taken, within_s=5, what="the background refresh")
        assert not keys.find("first")
    finally:
        await keys.stop()
