"""Prometheus gauges of disputes, in the service's registry (read from the database by
the reconciler's dispute task on every pass)."""

from __future__ import annotations

from payment_service.observability.catalogue import DisputeFamilies


class DisputeMetrics(DisputeFamilies):
    """Implements app.ports.disputes.DisputeMetricsSink."""

    def observe(self, open_disputes: int, evidence_due_soon: int) -> None:
        self.open_disputes.set(open_disputes)
        self.evidence_due_soon.set(evidence_due_soon)
