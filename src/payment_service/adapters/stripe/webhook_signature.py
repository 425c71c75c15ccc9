"""Stripe-Signature verification over the raw body, as Stripe specifies it.

The v1 signature is the hex HMAC-SHA256 of ``"{t}.{body}"`` under the endpoint secret
(the scheme ``stripe.WebhookSignature.verify_header`` implements; computed here
directly over the bytes, without the library's decode and re-encode per secret, as
this is on the request path of every delivery). Any of several v1 signatures may
match, compared in constant time; timestamps older than the tolerance, or further in
the future, are rejected. Several
endpoint secrets may be configured at once (rotation): a delivery signed with
any of them is accepted.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Sequence
from hashlib import sha256

from payment_service.app.ports.webhooks import WebhookRejected

DEFAULT_TOLERANCE_S = 300


class StripeSignatureVerifier:
    """Implements app.webhooks.WebhookVerifier."""

    def __init__(
        self,
        secrets: Sequence[str],
        *,
        tolerance_s: int = DEFAULT_TOLERANCE_S,
    ) -> None:
        if tolerance_s <= 0:
            raise ValueError("the signature tolerance must be positive")
        self._secrets = tuple(s for s in secrets if s.strip())
        self._keys = tuple(secret.encode("utf-8") for secret in self._secrets)
        self._tolerance_s = tolerance_s

    @property
    def configured(self) -> bool:
        return bool(self._secrets)

    def verify(self, payload: bytes, signature_header: str | None) -> None:
        if not self._secrets:
            raise WebhookRejected("no webhook secret is configured")
        if not signature_header:
            raise WebhookRejected("missing Stripe-Signature header")
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookRejected("the body is not UTF-8") from None
        items = [item.partition("=") for item in signature_header.split(",")]
        timestamp = _timestamp(items)
        now = time.time()
        if timestamp > now + self._tolerance_s:
            raise WebhookRejected("the signature timestamp is in the future")
        if timestamp < now - self._tolerance_s:
            raise WebhookRejected("the signature timestamp is too old")
        # compare_digest takes ASCII strings only; a non-ASCII value matches nothing anyway.
        given = [value for key, _, value in items if key == "v1" and value.isascii()]
        signed = b"%d." % timestamp + payload
        for key in self._keys:
            expected = hmac.new(key, signed, sha256).hexdigest()
            if any(hmac.compare_digest(expected, signature) for signature in given):
                return
        raise WebhookRejected("no valid v1 signature for any configured secret")


def _timestamp(items: list[tuple[str, str, str]]) -> int:
    stamps = [value for key, _, value in items if key == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        raise WebhookRejected("the Stripe-Signature header has no single timestamp")
    return int(stamps[0])
