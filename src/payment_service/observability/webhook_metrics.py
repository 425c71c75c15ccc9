"""Prometheus metrics of the webhook pipeline and the reconciler, in the service's registry."""

from __future__ import annotations

import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from payment_service.app.ports.reconcile import RepairReport
from payment_service.observability.families import Families

# From a delivery's arrival to its event applied: milliseconds when the appliers keep up,
# minutes and more once a failed event waits for its retries.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 600.0)


class WebhookMetrics:
    """Implements app.webhooks.WebhookMetricsSink and api.http.webhooks.DeliveryMetrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        family = Families(registry)
        self._events = family.counter(
            "stripe_webhook_events",
            "Stripe events handled, by type and outcome "
            "(applied, ignored, quarantined, duplicate, failed, dead).",
            "type",
            "outcome",
        )
        self._dead = family.counter(
            "stripe_webhook_dead_events",
            "Stripe events that exhausted their retries (counted when they die; see "
            "stripe_webhook_backlog_events for how many are dead now).",
        )
        self._backlog = family.gauge(
            "stripe_webhook_backlog_events",
            "Stored Stripe events waiting for an applier (received), a retry (failed) or an "
            "operator (dead), by state; read from the database by the appliers and the "
            "reconciler.",
            "state",
        )
        self._backlog_age = family.gauge(
            "stripe_webhook_backlog_oldest_age_seconds",
            "Age of the oldest stored Stripe event in the state (received: the oldest not "
            "applied yet, failed, dead); 0 when none.",
            "state",
        )
        self._quarantined = family.counter(
            "stripe_webhook_quarantined_events",
            "Stripe events not applied because they contradict stored data.",
        )
        self._deliveries = family.counter(
            "stripe_webhook_deliveries",
            "Deliveries the webhook endpoint answered, by HTTP status (200 stored, or a "
            "duplicate; 202 stored and deferred to the retrier when applying inline; 400 bad "
            "signature or no event, 503 not stored).",
            "code",
        )
        self._lag = family.histogram(
            "stripe_webhook_apply_lag_seconds",
            "Ingest-to-applied lag: from a delivery's arrival at the sidecar to its event "
            "applied (or settled as ignored or quarantined) by an applier.",
            buckets=LAG_BUCKETS,
        )

    def outcome(self, event_type: str, outcome: str) -> None:
        self._events.labels(event_type, outcome).inc()
        if outcome == "dead":
            self._dead.inc()
        elif outcome == "quarantined":
            self._quarantined.inc()

    def backlog(self, state: str, count: int, oldest_age_s: float) -> None:
        self._backlog.labels(state).set(count)
        self._backlog_age.labels(state).set(oldest_age_s)

    def answered(self, status: int) -> None:
        self._deliveries.labels(str(status)).inc()

    def settled_after(self, seconds: float) -> None:
        self._lag.observe(seconds)


class ReconcilerMetrics:
    """Implements app.ports.reconcile.ReconcilerMetricsSink."""

    def __init__(self, registry: CollectorRegistry) -> None:
        family = Families(registry)
        self._runs = family.counter(
            "reconciler_runs",
            "Reconciler passes, by result (done, skipped: another replica holds the lock).",
            "result",
        )
        self._repaired = family.counter(
            "reconciler_repaired_objects",
            "Objects the reconciler brought in line with Stripe, by task.",
            "task",
        )
        self._unresolved = family.gauge(
            "reconciler_unresolved_objects",
            "Objects still not in line with Stripe after the last pass, by task.",
            "task",
        )
        self._oldest = family.gauge(
            "reconciler_oldest_unresolved_age_seconds",
            "Age of the oldest object still unresolved after the last pass, by task.",
            "task",
        )
        self._errors = family.counter(
            "reconciler_task_errors",
            "Objects or tasks the reconciler could not handle in a pass, by task.",
            "task",
        )
        self._last_pass = family.gauge(
            "reconciler_last_pass_timestamp_seconds",
            "Unix time this replica last finished a reconciler pass (0: never; a replica "
            "that does not hold the lock skips its passes).",
        )

    def skipped(self) -> None:
        self._runs.labels("skipped").inc()

    def observe(self, reports: Sequence[RepairReport]) -> None:
        self._runs.labels("done").inc()
        self._last_pass.set(time.time())
        for report in reports:
            self._repaired.labels(report.task).inc(report.repaired)
            self._unresolved.labels(report.task).set(report.unresolved)
            self._oldest.labels(report.task).set(report.oldest_unresolved_age_s)
            if report.errors:
                self._errors.labels(report.task).inc(report.errors)
