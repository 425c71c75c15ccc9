"""POST /stripe/webhooks: what is rejected before parsing, and what is stored and answered."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import pytest

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.domain.states import PaymentState, WebhookEventState
from tests.integration.webhooks.conftest import Endpoint, Pipeline
from tests.integration.webhooks.support import (
    ALL_TYPES,
    OLD_SECRET,
    SECRET,
    body_of,
    event,
    load_payment,
    payment_intent,
    signature,
    signed,
    store_payment,
    stored_events,
    webhook_audit,
)


def _headers(sig: str | None, content_type: str = "application/json") -> dict[str, str]:
    headers = {"Content-Type": content_type}
    if sig is not None:
        headers["Stripe-Signature"] = sig
    return headers


def _v(payload: bytes, secret: str, timestamp: int) -> str:
    signed_payload = f"{timestamp}.{payload.decode()}".encode()
    return hmac.new(secret.encode(), signed_payload, hashlib.sha256).hexdigest()


async def _rejected(
    endpoint: Endpoint, pipeline: Pipeline, body: bytes, headers: dict[str, str], status: int
) -> None:
    got, _ = await endpoint.post(body, headers)
    assert got == status
    assert await stored_events(pipeline.uow_factory) == []


@pytest.fixture
def payload() -> bytes:
    return body_of(event("payment_intent.succeeded"))


async def test_forged_signature_is_400_and_stores_nothing(
    endpoint: Endpoint, pipeline: Pipeline, payload: bytes
) -> None:
    now = int(time.time())
    await _rejected(endpoint, pipeline, payload, _headers(f"t={now},v1={'ab' * 32}"), 400)


async def test_missing_signature_is_400(
    endpoint: Endpoint, pipeline: Pipeline, payload: bytes
) -> None:
    await _rejected(endpoint, pipeline, payload, _headers(None), 400)


async def test_wrong_secret_is_400(endpoint: Endpoint, pipeline: Pipeline, payload: bytes) -> None:
    await _rejected(endpoint, pipeline, payload, _headers(signature(payload, "whsec_wrong")), 400)


async def test_one_changed_body_byte_is_400(
    endpoint: Endpoint, pipeline: Pipeline, payload: bytes
) -> None:
    sig = signature(payload)
    changed = payload.replace(b'"livemode": false', b'"livemode": falsE')
    assert changed != payload
    assert len(changed) == len(payload)
    await _rejected(endpoint, pipeline, changed, _headers(sig), 400)


@pytest.mark.parametrize("offset", [-301, 301])
async def test_timestamp_301_seconds_off_is_400(
    endpoint: Endpoint, pipeline: Pipeline, payload: bytes, offset: int
) -> None:
    sig = signature(payload, timestamp=int(time.time()) + offset)
    await _rejected(endpoint, pipeline, payload, _headers(sig), 400)


async def test_only_a_v0_signature_is_400(
    endpoint: Endpoint, pipeline: Pipeline, payload: bytes
) -> None:
    now = int(time.time())
    await _rejected(
        endpoint, pipeline, payload, _headers(f"t={now},v0={_v(payload, SECRET, now)}"), 400
    )


async def test_two_v1_signatures_one_valid_is_accepted(
    endpoint: Endpoint, pipeline: Pipeline, payload: bytes
) -> None:
    now = int(time.time())
    sig = f"t={now},v1={_v(payload, 'whsec_retired', now)},v1={_v(payload, SECRET, now)}"
    status, _ = await endpoint.post(payload, _headers(sig))
    assert status == 200
    assert len(await stored_events(pipeline.uow_factory)) == 1


async def test_the_secret_being_rotated_out_still_works(
    endpoint: Endpoint, pipeline: Pipeline, payload: bytes
) -> None:
    status, _ = await endpoint.post(payload, _headers(signature(payload, OLD_SECRET)))
    assert status == 200


async def test_two_mib_body_is_413(endpoint: Endpoint, pipeline: Pipeline) -> None:
    evt = event("payment_intent.succeeded")
    evt["data"]["object"]["description"] = "x" * (2 * 1024 * 1024)
    body = body_of(evt)
    await _rejected(endpoint, pipeline, body, _headers(signature(body)), 413)


async def test_chunked_body_over_the_limit_is_413(endpoint: Endpoint, pipeline: Pipeline) -> None:
    async def chunks():  # no Content-Length: the limit must hold while streaming
        for _ in range(40):
            yield b"x" * 65536

    async with endpoint.session.post(
        endpoint.url, data=chunks(), headers=_headers("t=1,v1=00")
    ) as response:
        assert response.status == 413
    assert await stored_events(pipeline.uow_factory) == []


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_non_json_content_type_is_415(
    endpoint: Endpoint, pipeline: Pipeline, payload: bytes, content_type: str
) -> None:
    await _rejected(endpoint, pipeline, payload, _headers(signature(payload), content_type), 415)


async def test_signed_body_that_is_no_event_is_400(endpoint: Endpoint, pipeline: Pipeline) -> None:
    for body in (b"[1, 2]", b"{not json", b'{"object": "event"}'):
        await _rejected(endpoint, pipeline, body, _headers(signature(body)), 400)


async def test_no_secret_configured_answers_404(
    unconfigured_endpoint: Endpoint, pipeline: Pipeline, payload: bytes
) -> None:
    await _rejected(unconfigured_endpoint, pipeline, payload, _headers(signature(payload)), 404)


@pytest.mark.parametrize("event_type", [*ALL_TYPES, "issuing.card.created", "some.future.type"])
async def test_every_event_type_is_stored_and_acknowledged(
    production_endpoint: Endpoint, uow_factory: SqlUnitOfWorkFactory, event_type: str
) -> None:
    """Against the registry the service builds (refund handlers included) and Stripe
    (localstripe), which knows none of the example objects: nothing is deferred."""
    evt = event(event_type)
    status, answer = await production_endpoint.post(*signed(evt))
    assert (status, answer["result"]) == (200, "accepted"), answer
    settled = await production_endpoint.settled(evt["id"])  # applied after the answer
    [stored] = await stored_events(uow_factory)
    assert stored.stripe_event_id == evt["id"]
    assert stored.type == event_type
    assert json.loads(stored.payload) == evt
    assert stored.state in (WebhookEventState.PROCESSED, WebhookEventState.IGNORED), (
        stored.last_error
    )
    assert settled in ("applied", "ignored")


@pytest.mark.parametrize(
    "event_type", ["refund.created", "refund.updated", "refund.failed", "charge.refund.updated"]
)
async def test_refund_of_a_charge_stripe_does_not_know_is_ignored(
    production_endpoint: Endpoint, uow_factory: SqlUnitOfWorkFactory, event_type: str
) -> None:
    evt = event(event_type)
    status, answer = await production_endpoint.post(*signed(evt))
    assert (status, answer["result"]) == (200, "accepted")
    assert await production_endpoint.settled(evt["id"]) == "ignored"
    [stored] = await stored_events(uow_factory)
    assert stored.state is WebhookEventState.IGNORED
    assert "refunds no payment of ours" in (stored.last_error or "")


async def test_duplicate_deliveries_have_one_effect(endpoint: Endpoint, pipeline: Pipeline) -> None:
    payment = await store_payment(pipeline.uow_factory, stripe_payment_intent_id="pi_dup_1")
    evt = event(
        "payment_intent.succeeded", payment_intent("pi_dup_1", "succeeded", payment_id=payment.id)
    )
    first = await endpoint.post(*signed(evt))
    assert (first[0], first[1]["result"]) == (200, "accepted")
    assert await endpoint.settled(evt["id"]) == "applied"
    second = await endpoint.post(*signed(evt))
    assert (second[0], second[1]["result"]) == (200, "duplicate")
    assert await endpoint.settled(evt["id"]) == "applied"
    stored = await load_payment(pipeline.uow_factory, payment.id)
    assert stored.state is PaymentState.SUCCEEDED
    assert stored.version == payment.version + 1
    assert len(await webhook_audit(pipeline.uow_factory, "payment_intent", "pi_dup_1")) == 1


async def test_ten_concurrent_deliveries_have_one_effect(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    payment = await store_payment(pipeline.uow_factory, stripe_payment_intent_id="pi_race_1")
    evt = event(
        "payment_intent.succeeded", payment_intent("pi_race_1", "succeeded", payment_id=payment.id)
    )
    body, headers = signed(evt)
    answers = await asyncio.gather(*(endpoint.post(body, headers) for _ in range(10)))
    assert [status for status, _ in answers] == [200] * 10
    results = sorted(answer["result"] for _, answer in answers)
    assert results == ["accepted"] + ["duplicate"] * 9
    assert await endpoint.settled(evt["id"]) == "applied"
    assert len(await stored_events(pipeline.uow_factory)) == 1
    stored = await load_payment(pipeline.uow_factory, payment.id)
    assert stored.state is PaymentState.SUCCEEDED
    assert stored.version == payment.version + 1
    assert len(await webhook_audit(pipeline.uow_factory, "payment_intent", "pi_race_1")) == 1
    assert pipeline.count("payment_intent.succeeded", "duplicate") == 9
