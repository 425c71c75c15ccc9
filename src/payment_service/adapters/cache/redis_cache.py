"""Redis-backed cache shared by all replicas.

Redis being down makes the service slower, never wrong or failing: every
error is logged (rate-limited) and treated as a miss. A delete that failed is
kept and retried before the next read, and until it succeeds every read is a
miss, so an invalidation lost to an outage can never serve a stale object. Each entry is a hash
``{v: version, d: data}``; a Lua script refuses to replace a newer version
(and keeps the same version as it is, only its expiry renewed).

Cached entities hold personal data and client secrets, so ``d`` is encrypted with the
field cipher (the process's, unless one is given), the entry's key bound in. An entry
that does not decrypt (written in clear by an older release, or under a key since
removed) is a miss.

With ``channel`` set, every change (a put that wrote, an invalidation) is also published
on that channel, in the same script, for the in-process copies of every replica
(near.py) to drop: the message is the changed keys, one a line.
"""

from __future__ import annotations

import logging
import time

from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.trace import TracerProvider
from redis.asyncio import Redis
from redis.exceptions import RedisError

from payment_service.app.ports.cache import INVALIDATION_HOLD_S
from payment_service.security.field_cipher import FieldCipher, FieldCipherError, field_cipher

log = logging.getLogger(__name__)
_HOLD_MS = int(INVALIDATION_HOLD_S * 1000)

# A hash {v: version, d: data}, or a tombstone {t: 1} left by an invalidation.
_PUT_IF_NEWER = """
if redis.call('HEXISTS', KEYS[1], 't') == 1 then
  return 0
end
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) > tonumber(ARGV[1]) then
  return 0
end
if current and tonumber(current) == tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])  -- the same row version: nothing changed
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if ARGV[4] ~= '' then
  redis.call('PUBLISH', ARGV[4], KEYS[1])
end
return 1
"""

_INVALIDATE = """
for _, key in ipairs(KEYS) do
  redis.call('DEL', key)
  redis.call('HSET', key, 't', 1)
  redis.call('PEXPIRE', key, ARGV[1])
end
if ARGV[2] ~= '' then
  redis.call('PUBLISH', ARGV[2], table.concat(KEYS, '\\n'))
end
return #KEYS
"""


class RedisCache:
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "ps:",
        cipher: FieldCipher | None = None,
        channel: str | None = None,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self.channel = channel
        self._notify = channel or ""
        self._cipher = cipher
        self._put = client.register_script(_PUT_IF_NEWER)
        self._invalidate = client.register_script(_INVALIDATE)
        self._last_error_log = 0.0
        self._pending_deletes: set[str] = set()

    @property
    def prefix(self) -> str:
        return self._prefix

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        op_timeout_s: float = 0.25,
        cipher: FieldCipher | None = None,
        channel: str | None = None,
    ) -> RedisCache:
        client = Redis.from_url(
            url,
            socket_timeout=op_timeout_s,
            socket_connect_timeout=op_timeout_s,
            retry_on_timeout=False,
            health_check_interval=30,
        )
        return cls(client, cipher=cipher, channel=channel)

    def trace(self, tracer_provider: TracerProvider) -> None:
        """A client span for every Redis command from now on."""
        RedisInstrumentor.instrument_client(self._redis, tracer_provider=tracer_provider)

    def _seal(self, key: str, value: bytes) -> bytes:
        cipher = self._cipher or field_cipher()
        return cipher.seal(value, context=f"cache.{key}").encode()

    def _unseal(self, key: str, stored: bytes) -> bytes | None:
        cipher = self._cipher or field_cipher()
        try:
            return cipher.unseal(stored.decode("ascii"), context=f"cache.{key}")
        except (FieldCipherError, UnicodeDecodeError):
            return None

    def _failed(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_error_log > 10:
            self._last_error_log = now
            log.warning(
                "cache unavailable, serving from the database",
                extra={"operation": operation, "error": type(exc).__name__},
            )

    async def _flush_pending_deletes(self) -> bool:
        keys = list(self._pending_deletes)
        try:
            await self._invalidate(keys=keys, args=[_HOLD_MS, self._notify])
        except (RedisError, OSError) as exc:
            self._failed("delete", exc)
            return False
        self._pending_deletes.difference_update(keys)
        return True

    async def get(self, key: str) -> bytes | None:
        if self._pending_deletes and not await self._flush_pending_deletes():
            return None
        try:
            value = await self._redis.hget(self._prefix + key, "d")
        except (RedisError, OSError) as exc:
            self._failed("get", exc)
            return None
        return self._unseal(key, value) if isinstance(value, bytes) else None

    async def put(self, key: str, version: int, value: bytes, ttl_s: float) -> None:
        sealed = self._seal(key, value)
        try:
            await self._put(
                keys=[self._prefix + key],
                args=[version, sealed, int(ttl_s * 1000), self._notify],
            )
        except (RedisError, OSError) as exc:
            self._failed("put", exc)

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        full = [self._prefix + k for k in keys]
        try:
            await self._invalidate(keys=full, args=[_HOLD_MS, self._notify])
        except (RedisError, OSError) as exc:
            self._pending_deletes.update(full)
            self._failed("delete", exc)

    async def close(self) -> None:
        await self._redis.aclose()
