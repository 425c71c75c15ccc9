"""Bearer-token verification: PyJWT with an algorithm allowlist, checked claims and a cache.

Keys are chosen by the token's algorithm family: HS* tokens are checked with the HMAC
secret only, RS*/PS* with RSA public keys only, ES* with EC public keys only. So a
token signed with HS256 using a public key as the "secret" (algorithm confusion) can
never verify. Successful verifications are cached by the raw token until the token
stops being acceptable (``exp`` plus leeway), so a caller's repeated calls cost one
dictionary lookup instead of a signature check.

RSA and EC keys also come from a JWKS (security/jwks.py) when one is configured: the
token's ``kid`` picks the key. A ``kid`` the set does not hold makes ``verify`` raise
``UnknownSigningKey``; ``authenticate`` then waits for one (rate-limited) refresh of the
set and tries again, so a key the issuer just added is accepted without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from payment_service.config import ConfigError, Settings
from payment_service.domain.caller import Caller
from payment_service.domain.errors import Unauthenticated
from payment_service.security.jwks import JwksKeys

REQUIRED_CLAIMS = ("exp", "iss", "aud", "sub")

TOKEN_MISSING = "TOKEN_MISSING"
TOKEN_INVALID = "TOKEN_INVALID"
TOKEN_EXPIRED = "TOKEN_EXPIRED"

VerificationKey = str | bytes | rsa.RSAPublicKey | ec.EllipticCurvePublicKey
MAX_KID_LENGTH = 256


class UnknownSigningKey(Unauthenticated):
    """The token names a key id the JWKS does not hold (yet)."""

    def __init__(self, kid: str) -> None:
        super().__init__("token signing key is unknown", reason=TOKEN_INVALID)
        self.kid = kid


@dataclass(frozen=True, slots=True)
class VerifierKeys:
    """Keys per algorithm family; an empty family rejects every token of that family."""

    hmac_secret: bytes | None
    rsa_keys: tuple[rsa.RSAPublicKey, ...]
    ec_keys: tuple[ec.EllipticCurvePublicKey, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> VerifierKeys:
        rsa_keys: list[rsa.RSAPublicKey] = []
        ec_keys: list[ec.EllipticCurvePublicKey] = []
        for index, pem in enumerate(settings.auth_public_keys):
            try:
                key = load_pem_public_key(pem.encode("utf-8"))
            except ValueError:
                raise ConfigError(f"auth_public_keys[{index}]: not a PEM public key") from None
            if isinstance(key, rsa.RSAPublicKey):
                rsa_keys.append(key)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                ec_keys.append(key)
            else:
                raise ConfigError(f"auth_public_keys[{index}]: only RSA and EC keys are supported")
        secret = settings.auth_hs256_secret
        return cls(
            hmac_secret=secret.get_secret_value().encode("utf-8") if secret else None,
            rsa_keys=tuple(rsa_keys),
            ec_keys=tuple(ec_keys),
        )

    def for_algorithm(self, algorithm: str) -> Sequence[VerificationKey]:
        if algorithm.startswith("HS"):
            return (self.hmac_secret,) if self.hmac_secret else ()
        if algorithm.startswith(("RS", "PS")):
            return self.rsa_keys
        if algorithm.startswith("ES"):
            return self.ec_keys
        return ()


def caller_from_claims(claims: Mapping[str, Any]) -> Caller:
    """Reduce verified claims to a Caller; scopes come from ``scope`` (string) or ``scp``/``scopes`` (list)."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthenticated("token subject is empty", reason=TOKEN_INVALID)
    scopes: set[str] = set()
    scope_string = claims.get("scope")
    if isinstance(scope_string, str):
        scopes.update(scope_string.split())
    for list_claim in ("scp", "scopes"):
        value = claims.get(list_claim)
        if isinstance(value, str):
            scopes.update(value.split())
        elif isinstance(value, list):
            scopes.update(item for item in value if isinstance(item, str))
    account_id = claims.get("account_id")
    if account_id is not None and (not isinstance(account_id, str) or not account_id):
        raise Unauthenticated("token account_id must be a non-empty string", reason=TOKEN_INVALID)
    return Caller(sub=sub, scopes=frozenset(scopes), account_id=account_id)


class JwtVerifier:
    """Verifies bearer tokens and returns the Caller; raises Unauthenticated with a reason."""

    def __init__(
        self,
        *,
        keys: VerifierKeys,
        algorithms: Sequence[str],
        issuer: str,
        audience: str,
        leeway_s: float,
        cache_size: int,
        clock: Callable[[], float] = time.time,
        jwks: JwksKeys | None = None,
    ) -> None:
        self._keys = keys
        self._jwks = jwks
        self._algorithms = frozenset(algorithms)
        self._issuer = issuer
        self._audience = audience
        self._leeway_s = leeway_s
        self._cache_size = cache_size
        self._clock = clock
        self._cache: dict[str, tuple[Caller, float]] = {}
        self._jwt = jwt.PyJWT(options={"require": list(REQUIRED_CLAIMS)})

    @classmethod
    def from_settings(cls, settings: Settings, jwks: JwksKeys | None = None) -> JwtVerifier:
        return cls(
            jwks=jwks,
            keys=VerifierKeys.from_settings(settings),
            algorithms=settings.auth_algorithms,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            leeway_s=settings.auth_leeway_s,
            cache_size=settings.auth_cache_size,
        )

    async def authenticate(self, token: str) -> Caller:
        """``verify``, after one refresh of the JWKS when the token names a key it lacks."""
        try:
            return self.verify(token)
        except UnknownSigningKey as unknown:
            if self._jwks is None or not await self._jwks.refresh_for_unknown(unknown.kid):
                raise
        return self.verify(token)

    def verify(self, token: str) -> Caller:
        cached = self._cache.get(token)
        if cached is not None:
            caller, valid_until = cached
            if self._clock() < valid_until:
                return caller
            del self._cache[token]
        claims = self._decode(token)
        caller = caller_from_claims(claims)
        self._remember(token, caller, float(claims["exp"]) + self._leeway_s)
        return caller

    def _keys_for(self, algorithm: str, kid: object) -> Sequence[VerificationKey]:
        keys = list(self._keys.for_algorithm(algorithm))
        if self._jwks is None or algorithm.startswith("HS"):
            return keys
        if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH):
            raise Unauthenticated("token kid is malformed", reason=TOKEN_INVALID)
        family = ec.EllipticCurvePublicKey if algorithm.startswith("ES") else rsa.RSAPublicKey
        from_set = [key for key in self._jwks.find(kid) if isinstance(key, family)]
        if kid is not None and not from_set and not keys:
            raise UnknownSigningKey(kid)
        return from_set + keys

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthenticated("token is malformed", reason=TOKEN_INVALID) from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise Unauthenticated("token algorithm is not allowed", reason=TOKEN_INVALID)
        keys = self._keys_for(algorithm, header.get("kid"))
        if not keys:
            raise Unauthenticated(
                "no key is configured for the token algorithm", reason=TOKEN_INVALID
            )
        for key in keys:
            try:
                return self._jwt.decode(
                    token,
                    key,
                    algorithms=[algorithm],
                    audience=self._audience,
                    issuer=self._issuer,
                    leeway=self._leeway_s,
                )
            except jwt.InvalidSignatureError:
                continue  # another configured key of the family may have signed it
            except jwt.ExpiredSignatureError:
                raise Unauthenticated("token has expired", reason=TOKEN_EXPIRED) from None
            except jwt.MissingRequiredClaimError as exc:
                raise Unauthenticated(
                    f"token lacks the {exc.claim!r} claim", reason=TOKEN_INVALID
                ) from None
            except jwt.InvalidAudienceError:
                raise Unauthenticated("token audience is wrong", reason=TOKEN_INVALID) from None
            except jwt.InvalidIssuerError:
                raise Unauthenticated("token issuer is wrong", reason=TOKEN_INVALID) from None
            except jwt.InvalidTokenError:
                raise Unauthenticated("token is invalid", reason=TOKEN_INVALID) from None
        raise Unauthenticated("token signature is invalid", reason=TOKEN_INVALID)

    def _remember(self, token: str, caller: Caller, valid_until: float) -> None:
        if self._cache_size <= 0:
            return
        if len(self._cache) >= self._cache_size:
            now = self._clock()
            for stale in [t for t, (_, until) in self._cache.items() if until <= now]:
                del self._cache[stale]
            # Still full of live tokens: drop the oldest tenth at once so inserts stay cheap.
            keep = self._cache_size - max(1, self._cache_size // 10)
            while len(self._cache) > keep:
                del self._cache[next(iter(self._cache))]
        self._cache[token] = (caller, valid_until)
