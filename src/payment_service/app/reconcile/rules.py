"""The reconciler's schedule."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReconcilerRules:
    pending_grace_s: float = 5.0  # younger PENDING rows are most likely mid-request
    stuck_after_s: float = 300.0
    max_refresh_interval_s: float = 6 * 3600.0
    event_lookback_s: float = 3 * 86400.0  # first pass: Stripe retries deliveries for 3 days
    # Events are read with created > (newest seen - this), so the newest seen is in the list
    # the forward walk starts from.
    event_overlap_s: float = 60.0
    batch_size: int = 100
    max_event_pages: int = 1000  # per pass; the rest waits for the next pass
    # DEAD events that died of a transient error and are younger than this get another
    # retry budget; older ones are left for an operator (and reported as unresolved).
    dead_requeue_window_s: float = 7 * 86400.0
