"""Backoff of failed events, and the event body stored for events read from the API."""

from __future__ import annotations

import json
from datetime import timedelta

from payment_service.adapters.stripe import mapping
from payment_service.app.webhooks import RetryPolicy, event_payload
from payment_service.domain.processor import RemoteEvent


def test_backoff_doubles_from_the_base_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=8, base_delay_s=2.0, max_delay_s=60.0)
    delays = [policy.delay(n) for n in range(1, 8)]
    assert delays[:5] == [timedelta(seconds=s) for s in (2, 4, 8, 16, 32)]
    assert delays[5:] == [timedelta(seconds=60)] * 2
    assert policy.delay(10_000) == timedelta(seconds=60)


def test_event_payload_round_trips_through_the_stripe_mapping() -> None:
    original = RemoteEvent(
        stripe_id="evt_123",
        type="payment_intent.succeeded",
        created=1_700_000_000,
        data_object={"id": "pi_1", "object": "payment_intent", "amount": 5},
        api_version="2025-08-27.basil",
        previous_attributes={"status": "processing"},
    )
    body = json.loads(event_payload(original))
    assert body["object"] == "event"
    assert mapping.to_event(body) == original
