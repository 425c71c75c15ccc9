"""Every metric family the service exposes, by the sink that feeds it: kind, name, help
text, labels (and a histogram's buckets), each stated here once.

Each sink subclasses its set (``WebhookMetrics(WebhookFamilies)``) and only feeds it.
docs/metrics.md documents every family here and nothing else
(tests/unit/observability/test_catalogue.py holds the two to each other).
"""

from __future__ import annotations

from typing import Any

from payment_service.observability.families import Families, Family, counter, gauge, histogram

# Latency buckets in seconds: a cached read is sub-millisecond, a Stripe round trip 0.1-0.5 s.
RPC_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
# From a delivery's arrival to its event applied: milliseconds when the appliers keep up,
# minutes and more once a failed event waits for its retries.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 600.0)
# A wait is for a connection another call gives back: milliseconds to the pool timeout.
POOL_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RpcFamilies(Families):
    handled = counter(
        "grpc_server_handled", "RPCs completed, by method and status code.", "method", "code"
    )
    handling_seconds = histogram(
        "grpc_server_handling_seconds",
        "RPC latency from the interceptor's view, by method and status code.",
        "method",
        "code",
        buckets=RPC_LATENCY_BUCKETS,
    )
    rejections = counter(
        "rate_limit_rejections", "Calls refused by a rate limit before any work, by limit.", "limit"
    )


class StripeFamilies(Families):
    requests = counter(
        "stripe_requests",
        "HTTP requests sent to Stripe (each retry counts), by method, route template and "
        "outcome (the HTTP status, or network_error, cancelled, error).",
        "method",
        "route",
        "outcome",
    )
    duration_seconds = histogram(
        "stripe_request_duration_seconds",
        "Time from sending a request to Stripe to its answer (or failure), by method and "
        "route template.",
        "method",
        "route",
        buckets=RPC_LATENCY_BUCKETS,
    )
    errors = counter(
        "stripe_request_errors",
        "Requests Stripe did not answer normally, by method, route template and kind "
        "(server: a 5xx, network: no connection or answer, cancelled: cut by our timeout "
        "or the caller's deadline, error: anything else).",
        "method",
        "route",
        "kind",
    )
    rate_limited = counter(
        "stripe_rate_limited",
        "Requests Stripe answered 429 (rate limited), by method and route template.",
        "method",
        "route",
    )


class WebhookFamilies(Families):
    events = counter(
        "stripe_webhook_events",
        "Stripe events handled, by type and outcome "
        "(applied, ignored, quarantined, duplicate, failed, dead).",
        "type",
        "outcome",
    )
    dead_events = counter(
        "stripe_webhook_dead_events",
        "Stripe events that exhausted their retries (counted when they die; see "
        "stripe_webhook_backlog_events for how many are dead now).",
    )
    backlog_events = gauge(
        "stripe_webhook_backlog_events",
        "Stored Stripe events waiting for an applier (received), a retry (failed) or an "
        "operator (dead), by state; read from the database by the appliers and the "
        "reconciler.",
        "state",
    )
    backlog_oldest_age = gauge(
        "stripe_webhook_backlog_oldest_age_seconds",
        "Age of the oldest stored Stripe event in the state (received: the oldest not "
        "applied yet, failed, dead); 0 when none.",
        "state",
    )
    quarantined_events = counter(
        "stripe_webhook_quarantined_events",
        "Stripe events not applied because they contradict stored data.",
    )
    deliveries = counter(
        "stripe_webhook_deliveries",
        "Deliveries the webhook endpoint answered, by HTTP status (200 stored, or a "
        "duplicate; 202 stored and deferred to the retrier when applying inline; 400 bad "
        "signature or no event, 503 not stored).",
        "code",
    )
    apply_lag = histogram(
        "stripe_webhook_apply_lag_seconds",
        "Ingest-to-applied lag: from a delivery's arrival at the sidecar to its event "
        "applied (or settled as ignored or quarantined) by an applier.",
        buckets=LAG_BUCKETS,
    )


class ReconcilerFamilies(Families):
    runs = counter(
        "reconciler_runs",
        "Reconciler passes, by result (done, skipped: another replica holds the lock).",
        "result",
    )
    repaired = counter(
        "reconciler_repaired_objects",
        "Objects the reconciler brought in line with Stripe, by task.",
        "task",
    )
    unresolved = gauge(
        "reconciler_unresolved_objects",
        "Objects still not in line with Stripe after the last pass, by task.",
        "task",
    )
    oldest_unresolved_age = gauge(
        "reconciler_oldest_unresolved_age_seconds",
        "Age of the oldest object still unresolved after the last pass, by task.",
        "task",
    )
    task_errors = counter(
        "reconciler_task_errors",
        "Objects or tasks the reconciler could not handle in a pass, by task.",
        "task",
    )
    last_pass = gauge(
        "reconciler_last_pass_timestamp_seconds",
        "Unix time this replica last finished a reconciler pass (0: never; a replica "
        "that does not hold the lock skips its passes).",
    )


class DisputeFamilies(Families):
    open_disputes = gauge(
        "disputes_open",
        "Disputes not decided yet (needs_response, under_review and their warning_ "
        "inquiry forms), as of the reconciler's last pass.",
    )
    evidence_due_soon = gauge(
        "disputes_evidence_due_soon",
        "Open disputes whose evidence is due within 72 hours (or overdue), as of the "
        "reconciler's last pass.",
    )


class CacheFamilies(Families):
    lookups = counter(
        "cache_lookups",
        "Read-through cache lookups, by result (hit, miss; an unreachable cache is a miss).",
        "result",
    )


class PoolFamilies(Families):
    waits = counter(
        "db_pool_waits", "Checkouts that found every connection in use and waited for one."
    )
    timeouts = counter(
        "db_pool_timeouts",
        "Checkouts that waited the whole pool timeout in vain (the call failed UNAVAILABLE).",
    )
    wait_seconds = histogram(
        "db_pool_wait_seconds",
        "How long checkouts that found the pool exhausted waited.",
        buckets=POOL_WAIT_BUCKETS,
    )


# The pool's gauges, read from the pool at scrape time (pool_metrics' collector), not held.
POOL_CONNECTIONS = gauge(
    "db_pool_connections",
    "Connections of the database pool, by state (in_use: checked out by a call or "
    "task, idle: open and waiting in the pool).",
    "state",
)
POOL_MAX_CONNECTIONS = gauge(
    "db_pool_max_connections", "The most connections the pool opens (pool size + overflow)."
)


class DependencyFamilies(Families):
    up = gauge(
        "dependency_up",
        "1 when the dependency answered the last probe (database: SELECT 1, redis: PING), "
        "0 when it did not.",
        "dependency",
    )
    probe_failures = counter(
        "dependency_probe_failures",
        "Probes the dependency did not answer in time, by dependency.",
        "dependency",
    )
    service_ready = gauge(
        "service_ready",
        "1 while the gRPC health service answers SERVING for the server (readiness).",
    )


SETS: tuple[type[Families], ...] = (
    RpcFamilies,
    StripeFamilies,
    WebhookFamilies,
    ReconcilerFamilies,
    DisputeFamilies,
    CacheFamilies,
    PoolFamilies,
    DependencyFamilies,
)


def every_family() -> tuple[Family[Any], ...]:
    """Every family the service exposes: each set's, and the pool's scrape-time gauges."""
    held = tuple(family for families in SETS for family in families.declared)
    return (*held, POOL_CONNECTIONS, POOL_MAX_CONNECTIONS)
