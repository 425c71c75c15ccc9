"""Stripe-Signature verification: every way a delivery can be forged or replayed."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
import stripe

from payment_service.adapters.stripe.webhook_signature import StripeSignatureVerifier
from payment_service.app.ports.webhooks import WebhookRejected

SECRET = "whsec_current"
OLD_SECRET = "whsec_previous"
PAYLOAD = b'{"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"}'


def header(payload: bytes = PAYLOAD, secret: str = SECRET, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(
        payload.decode(), secret, timestamp=timestamp
    )


def raw_signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.{payload.decode()}".encode()
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


@pytest.fixture
def verifier() -> StripeSignatureVerifier:
    return StripeSignatureVerifier([SECRET], tolerance_s=300)


def test_a_valid_signature_passes(verifier: StripeSignatureVerifier) -> None:
    verifier.verify(PAYLOAD, header())


@pytest.mark.parametrize(
    "bad_header",
    [
        None,
        "",
        "garbage",
        "t=notanumber,v1=abc",
        f"t={int(time.time())},v1={'0' * 64}",  # forged signature
    ],
)
def test_missing_malformed_or_forged_headers_are_rejected(
    verifier: StripeSignatureVerifier, bad_header: str | None
) -> None:
    with pytest.raises(WebhookRejected):
        verifier.verify(PAYLOAD, bad_header)


def test_wrong_secret_is_rejected(verifier: StripeSignatureVerifier) -> None:
    with pytest.raises(WebhookRejected):
        verifier.verify(PAYLOAD, header(secret="whsec_someone_else"))


def test_one_changed_body_byte_is_rejected(verifier: StripeSignatureVerifier) -> None:
    signed = header()
    changed = bytearray(PAYLOAD)
    changed[10] ^= 0x01
    with pytest.raises(WebhookRejected):
        verifier.verify(bytes(changed), signed)


def test_timestamp_301_seconds_old_is_rejected(verifier: StripeSignatureVerifier) -> None:
    with pytest.raises(WebhookRejected, match="too old"):
        verifier.verify(PAYLOAD, header(timestamp=int(time.time()) - 301))


def test_timestamp_301_seconds_ahead_is_rejected(verifier: StripeSignatureVerifier) -> None:
    # The stripe library alone lets a future timestamp pass.
    future = int(time.time()) + 301
    stripe.WebhookSignature.verify_header(PAYLOAD.decode(), header(timestamp=future), SECRET, 300)
    with pytest.raises(WebhookRejected, match="future"):
        verifier.verify(PAYLOAD, header(timestamp=future))


def test_timestamps_inside_the_tolerance_pass(verifier: StripeSignatureVerifier) -> None:
    verifier.verify(PAYLOAD, header(timestamp=int(time.time()) - 290))
    verifier.verify(PAYLOAD, header(timestamp=int(time.time()) + 290))


def test_the_tolerance_is_configurable() -> None:
    strict = StripeSignatureVerifier([SECRET], tolerance_s=10)
    with pytest.raises(WebhookRejected):
        strict.verify(PAYLOAD, header(timestamp=int(time.time()) - 30))


def test_only_a_v0_signature_is_rejected(verifier: StripeSignatureVerifier) -> None:
    now = int(time.time())
    with pytest.raises(WebhookRejected):
        verifier.verify(PAYLOAD, f"t={now},v0={raw_signature(PAYLOAD, SECRET, now)}")


def test_two_v1_signatures_one_valid_pass(verifier: StripeSignatureVerifier) -> None:
    now = int(time.time())
    good = raw_signature(PAYLOAD, SECRET, now)
    bad = raw_signature(PAYLOAD, "whsec_other", now)
    verifier.verify(PAYLOAD, f"t={now},v1={bad},v1={good}")
    verifier.verify(PAYLOAD, f"t={now},v1={good},v1={bad}")


def test_two_v1_signatures_none_valid_are_rejected(verifier: StripeSignatureVerifier) -> None:
    now = int(time.time())
    bad1 = raw_signature(PAYLOAD, "whsec_a", now)
    bad2 = raw_signature(PAYLOAD, "whsec_b", now)
    with pytest.raises(WebhookRejected):
        verifier.verify(PAYLOAD, f"t={now},v1={bad1},v1={bad2}")


def test_two_timestamps_are_rejected(verifier: StripeSignatureVerifier) -> None:
    now = int(time.time())
    good = raw_signature(PAYLOAD, SECRET, now)
    with pytest.raises(WebhookRejected):
        verifier.verify(PAYLOAD, f"t={now - 1000},t={now},v1={good}")


def test_rotation_accepts_every_configured_secret() -> None:
    rotating = StripeSignatureVerifier([SECRET, OLD_SECRET])
    rotating.verify(PAYLOAD, header(secret=SECRET))
    rotating.verify(PAYLOAD, header(secret=OLD_SECRET))
    with pytest.raises(WebhookRejected):
        rotating.verify(PAYLOAD, header(secret="whsec_retired"))


def test_non_utf8_body_is_rejected(verifier: StripeSignatureVerifier) -> None:
    with pytest.raises(WebhookRejected):
        verifier.verify(b"\xff\xfe", header())


def test_no_secret_means_not_configured_and_rejects_everything() -> None:
    empty = StripeSignatureVerifier(["", "  "])
    assert not empty.configured
    with pytest.raises(WebhookRejected):
        empty.verify(PAYLOAD, header())
    assert StripeSignatureVerifier([SECRET]).configured


def test_a_non_ascii_v1_value_is_rejected_not_an_error(verifier: StripeSignatureVerifier) -> None:
    now = int(time.time())
    good = raw_signature(PAYLOAD, SECRET, now)
    with pytest.raises(WebhookRejected):
        verifier.verify(PAYLOAD, f"t={now},v1=\u00e9{good[1:]}")
    verifier.verify(PAYLOAD, f"t={now},v1=\u00e9,v1={good}")


def test_the_signature_is_the_one_the_stripe_library_checks() -> None:
    """Our HMAC over the bytes accepts exactly what stripe-python's verify_header does."""
    body = '{"id":"evt_\u00fc","object":"event"}'.encode()
    verifier = StripeSignatureVerifier([SECRET])
    signed = header(body)
    stripe.WebhookSignature.verify_header(body, signed, SECRET, 300)
    verifier.verify(body, signed)
    with pytest.raises(WebhookRejected):
        verifier.verify(body + b" ", signed)
