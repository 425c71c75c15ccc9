"""Backoff of failed events, and the event body stored for events read from the API."""

from __future__ import annotations

import json
from datetime import timedelta

from payment_service.adapters.stripe import mapping
from payment_service.app.webhooks.policy import RetryPolicy
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
    body = json.loads(mapping.encode_event(original))
    assert body["object"] == "event"
    assert mapping.to_event(body) == original


def test_default_budget_covers_stripes_three_days_with_capped_delays() -> None:
    from payment_service.bootstrap.policies import retry_policy
    from payment_service.config import Settings

    for policy in (RetryPolicy(), retry_policy(Settings())):
        assert policy.max_delay_s == 600.0
        assert max(policy.delay(n) for n in range(1, policy.max_attempts)) == timedelta(seconds=600)
        assert policy.budget() >= timedelta(days=3)
        assert policy.budget() <= timedelta(days=4)


def test_claim_lease_covers_the_stripe_reads_of_an_attempt_or_is_configured() -> None:
    from payment_service.bootstrap.policies import retry_policy
    from payment_service.config import Settings

    derived = retry_policy(Settings(stripe_timeout_s=20.0, stripe_max_network_retries=2))
    assert derived.lease_s == 20.0 * 3 * derived.max_reads + 30.0
    assert retry_policy(Settings(webhook_claim_lease_s=42.0)).lease_s == 42.0
