"""Public signing keys from a JWKS URL, kept in memory and refreshed in the background.

Token checks read the key set from memory only: no fetch per RPC, and nothing blocks the
event loop (the fetch is aiohttp's; PyJWT's ``PyJWKClient`` is synchronous and holds a
lock across its fetch). The set is fetched again every ``refresh_s``; a token whose
``kid`` is unknown may ask for one early refresh, at most once per
``unknown_kid_interval_s`` however many such tokens arrive, and every waiter shares it.

A successful fetch replaces the set (a key the issuer dropped stops working). A failed
one keeps it: during an outage each key keeps working until ``key_lifespan_s`` after the
last fetch that listed it. Only RSA and EC signing keys are taken; symmetric (``oct``)
keys and keys meant for encryption are ignored, so a JWKS can never hand out an HMAC
secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt import PyJWK
from jwt.exceptions import InvalidKeyError, PyJWKError

log = logging.getLogger(__name__)

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
Fetch = Callable[[], Awaitable[Mapping[str, Any]]]
MAX_JWKS_BYTES = 1 << 20


class JwksError(Exception):
    """The JWKS could not be fetched or read."""


@dataclass(frozen=True, slots=True)
class JwksConfig:
    url: str
    refresh_s: float = 300.0
    unknown_kid_interval_s: float = 30.0
    timeout_s: float = 5.0
    key_lifespan_s: float = 86_400.0


@dataclass(frozen=True, slots=True)
class _Held:
    key: PublicKey
    listed_at: float  # monotonic time of the last fetch that listed it


def http_fetch(config: JwksConfig) -> Fetch:
    """GET the JWKS with aiohttp: a bounded time and size, JSON only."""

    async def fetch() -> Mapping[str, Any]:
        timeout = aiohttp.ClientTimeout(total=config.timeout_s)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(config.url, headers={"Accept": "application/json"}) as response,
            ):
                if response.status != 200:
                    raise JwksError(f"JWKS answered HTTP {response.status}")
                body = await response.content.read(MAX_JWKS_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise JwksError(f"JWKS fetch failed: {type(error).__name__}") from None
        if len(body) > MAX_JWKS_BYTES:
            raise JwksError("JWKS is larger than 1 MiB")
        try:
            document = json.loads(body)
        except ValueError:
            raise JwksError("JWKS is not JSON") from None
        if not isinstance(document, dict):
            raise JwksError("JWKS is not a JSON object")
        return document

    return fetch


def parse_jwks(document: Mapping[str, Any]) -> dict[str, PublicKey]:
    """The RSA and EC signing keys of a JWKS by ``kid``; other entries are skipped."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise JwksError("JWKS has no 'keys' list")
    keys: dict[str, PublicKey] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC"):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or entry.get("use", "sig") != "sig":
            continue
        try:
            key = PyJWK(entry).key
        except (PyJWKError, InvalidKeyError):
            log.warning("jwks key skipped: unreadable", extra={"kid": kid[:64]})
            continue
        if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            keys[kid] = key
    return keys


class JwksKeys:
    """The key set in memory; ``find`` never does I/O."""

    def __init__(
        self,
        config: JwksConfig,
        *,
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._fetch = fetch or http_fetch(config)
        self._clock = clock
        self._keys: dict[str, _Held] = {}
        self._last_early: float | None = None
        self._in_flight: asyncio.Task[bool] | None = None
        self._runner: asyncio.Task[None] | None = None
        self.fetches = 0

    def find(self, kid: str | None) -> tuple[PublicKey, ...]:
        """The live key with this ``kid`` (every live key when the token names none)."""
        now = self._clock()
        lifespan = self._config.key_lifespan_s
        if kid is not None:
            held = self._keys.get(kid)
            alive = held is not None and now - held.listed_at < lifespan
            return (held.key,) if held is not None and alive else ()
        return tuple(h.key for h in self._keys.values() if now - h.listed_at < lifespan)

    def knows(self, kid: str) -> bool:
        return bool(self.find(kid))

    async def refresh(self) -> bool:
        """Fetch now, sharing a fetch already under way; whether the set is fresh."""
        if self._in_flight is None or self._in_flight.done():
            self._in_flight = asyncio.create_task(self._refresh_once())
        return await asyncio.shield(self._in_flight)

    async def refresh_for_unknown(self, kid: str) -> bool:
        """One early refresh per interval for tokens naming a key we do not hold."""
        if self.knows(kid):
            return True
        now = self._clock()
        running = self._in_flight is not None and not self._in_flight.done()
        interval = self._config.unknown_kid_interval_s
        if not running and self._last_early is not None and now - self._last_early < interval:
            return False
        if not running:
            self._last_early = now
        await self.refresh()
        return self.knows(kid)

    async def _refresh_once(self) -> bool:
        self.fetches += 1
        try:
            keys = parse_jwks(await self._fetch())
        except JwksError as error:
            log.warning("jwks refresh failed; keeping the keys held", extra={"error": str(error)})
            return False
        now = self._clock()
        self._keys = {kid: _Held(key, now) for kid, key in keys.items()}
        return True

    async def start(self) -> None:
        """A first fetch (a failure is logged, not raised: tokens wait for keys), then the
        periodic refresh in the background."""
        await self.refresh()
        self._runner = asyncio.create_task(self._run(), name="jwks-refresh")

    async def stop(self) -> None:
        for task in (self._runner, self._in_flight):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _run(self) -> None:
        delay = self._config.refresh_s
        while True:
            await asyncio.sleep(delay)
            fresh = await self.refresh()
            # After a failure, try again sooner (but not in a tight loop).
            delay = self._config.refresh_s if fresh else min(self._config.refresh_s, 30.0)
