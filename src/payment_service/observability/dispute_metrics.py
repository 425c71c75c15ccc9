"""Prometheus gauges of disputes, in the service's registry (read from the database by
the reconciler's dispute task on every pass)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from payment_service.observability.families import Families


class DisputeMetrics:
    """Implements app.ports.disputes.DisputeMetricsSink."""

    def __init__(self, registry: CollectorRegistry) -> None:
        family = Families(registry)
        self._open = family.gauge(
            "disputes_open",
            "Disputes not decided yet (needs_response, under_review and their warning_ "
            "inquiry forms), as of the reconciler's last pass.",
        )
        self._due_soon = family.gauge(
            "disputes_evidence_due_soon",
            "Open disputes whose evidence is due within 72 hours (or overdue), as of the "
            "reconciler's last pass.",
        )

    def observe(self, open_disputes: int, evidence_due_soon: int) -> None:
        self._open.set(open_disputes)
        self._due_soon.set(evidence_due_soon)
