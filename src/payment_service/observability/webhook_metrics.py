"""Prometheus metrics of the webhook pipeline and the reconciler, in the service's registry."""

from __future__ import annotations

import time
from collections.abc import Sequence

from payment_service.app.ports.reconcile import RepairReport
from payment_service.observability.catalogue import ReconcilerFamilies, WebhookFamilies


class WebhookMetrics(WebhookFamilies):
    """Implements app.webhooks.WebhookMetricsSink and api.http.webhooks.DeliveryMetrics."""

    def outcome(self, event_type: str, outcome: str) -> None:
        self.events.labels(event_type, outcome).inc()
        if outcome == "dead":
            self.dead_events.inc()
        elif outcome == "quarantined":
            self.quarantined_events.inc()

    def backlog(self, state: str, count: int, oldest_age_s: float) -> None:
        self.backlog_events.labels(state).set(count)
        self.backlog_oldest_age.labels(state).set(oldest_age_s)

    def answered(self, status: int) -> None:
        self.deliveries.labels(str(status)).inc()

    def settled_after(self, seconds: float) -> None:
        self.apply_lag.observe(seconds)


class ReconcilerMetrics(ReconcilerFamilies):
    """Implements app.ports.reconcile.ReconcilerMetricsSink."""

    def skipped(self) -> None:
        self.runs.labels("skipped").inc()

    def observe(self, reports: Sequence[RepairReport]) -> None:
        self.runs.labels("done").inc()
        self.last_pass.set(time.time())
        for report in reports:
            self.repaired.labels(report.task).inc(report.repaired)
            self.unresolved.labels(report.task).set(report.unresolved)
            self.oldest_unresolved_age.labels(report.task).set(report.oldest_unresolved_age_s)
            if report.errors:
                self.task_errors.labels(report.task).inc(report.errors)
