"""The rules and schedules the composition root derives from the settings: payment
leases, webhook retries and claims, webhook ingest batching."""

from __future__ import annotations

from payment_service.app.payments.rules import PaymentRules
from payment_service.app.webhooks.ingest import IngestPolicy
from payment_service.app.webhooks.policy import RetryPolicy
from payment_service.config import Settings

# Beyond the Stripe reads, a webhook attempt needs a few short transactions.
CLAIM_LEASE_MARGIN_S = 30.0


def payment_rules(settings: Settings) -> PaymentRules:
    return PaymentRules(
        currencies=frozenset(settings.currencies),
        refresh_after_s=settings.payment_refresh_after_s,
        cache_ttl_s=settings.cache_ttl_s,
        stripe_lease_s=per_stripe_call_s(settings) + 5,
    )


def per_stripe_call_s(settings: Settings) -> float:
    """The longest one Stripe call can take: timeout x (retries + 1)."""
    return settings.stripe_timeout_s * (settings.stripe_max_network_retries + 1)


def claim_lease_s(settings: Settings) -> float:
    """How long a claimed webhook event stays ours: configured, or long enough for every
    Stripe read one application may make, plus a margin."""
    if settings.webhook_claim_lease_s > 0:
        return settings.webhook_claim_lease_s
    return per_stripe_call_s(settings) * RetryPolicy().max_reads + CLAIM_LEASE_MARGIN_S


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.webhook_max_attempts,
        base_delay_s=settings.webhook_retry_base_s,
        max_delay_s=settings.webhook_retry_max_delay_s,
        lease_s=claim_lease_s(settings),
        batch_size=settings.webhook_apply_batch,
    )


def ingest_policy(settings: Settings) -> IngestPolicy:
    return IngestPolicy(
        max_batch=settings.webhook_ingest_max_batch,
        max_wait_s=settings.webhook_ingest_max_wait_s,
    )
