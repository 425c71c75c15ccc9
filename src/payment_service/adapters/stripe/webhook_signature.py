"""Stripe-Signature verification with the stripe library, over the raw body.

``stripe.WebhookSignature.verify_header`` checks the v1 HMAC (any of several
v1 signatures may match) and rejects timestamps older than the tolerance; it
lets a timestamp from the future pass, so that is checked here too. Several
endpoint secrets may be configured at once (rotation): a delivery signed with
any of them is accepted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import stripe

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
        timestamp = _timestamp(signature_header)
        now = time.time()
        if timestamp > now + self._tolerance_s:
            raise WebhookRejected("the signature timestamp is in the future")
        if timestamp < now - self._tolerance_s:
            raise WebhookRejected("the signature timestamp is too old")
        for secret in self._secrets:
            try:
                stripe.WebhookSignature.verify_header(
                    payload, signature_header, secret, self._tolerance_s
                )
            except stripe.SignatureVerificationError:
                continue
            return
        raise WebhookRejected("no valid v1 signature for any configured secret")


def _timestamp(header: str) -> int:
    stamps = [
        value for key, _, value in (item.partition("=") for item in header.split(",")) if key == "t"
    ]
    if len(stamps) != 1 or not stamps[0].isdigit():
        raise WebhookRejected("the Stripe-Signature header has no single timestamp")
    return int(stamps[0])
