"""Minting HS256 tokens for operators and tests (``payment-service token``)."""

from __future__ import annotations

import time
from collections.abc import Iterable

import jwt

from payment_service.config import Settings

DEFAULT_TTL_S = 3600


class TokenMintingError(Exception):
    """The configuration cannot sign tokens (no HS256 secret)."""


def mint_token(
    settings: Settings,
    *,
    sub: str,
    scopes: Iterable[str],
    account_id: str | None = None,
    ttl_s: int = DEFAULT_TTL_S,
    now: float | None = None,
) -> str:
    """An HS256 token with the configured issuer and audience, valid for ``ttl_s`` seconds."""
    if settings.auth_hs256_secret is None:
        raise TokenMintingError(
            "auth_hs256_secret (PAYMENT_AUTH_HS256_SECRET) is not set: cannot sign tokens"
        )
    if "HS256" not in settings.auth_algorithms:
        raise TokenMintingError(
            "HS256 is not in auth_algorithms (PAYMENT_AUTH_ALGORITHMS): the server would refuse the token"
        )
    if not sub:
        raise TokenMintingError("sub must not be empty")
    if ttl_s <= 0:
        raise TokenMintingError("ttl must be positive")
    issued_at = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "sub": sub,
        "iss": settings.auth_issuer,
        "aud": settings.auth_audience,
        "iat": issued_at,
        "exp": issued_at + ttl_s,
        "scope": " ".join(sorted(set(scopes))),
    }
    if account_id:
        claims["account_id"] = account_id
    return jwt.encode(claims, settings.auth_hs256_secret.get_secret_value(), algorithm="HS256")
