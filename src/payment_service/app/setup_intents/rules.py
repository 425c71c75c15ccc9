"""The SetupIntent capability's settings and small shared rules."""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.domain.states import SetupIntentState

# Known at Stripe and not settled: GetSetupIntent and the reconciler re-read these.
UNSETTLED = frozenset(
    {
        SetupIntentState.REQUIRES_PAYMENT_METHOD,
        SetupIntentState.REQUIRES_CONFIRMATION,
        SetupIntentState.REQUIRES_ACTION,
        SetupIntentState.PROCESSING,
        # Succeeded but its card not attached yet (the attachment is retried on a read).
        SetupIntentState.SUCCEEDED,
    }
)


@dataclass(frozen=True, slots=True)
class SetupIntentRules:
    refresh_after_s: float = 5.0  # GetSetupIntent re-reads an unsettled one this stale
    stripe_lease_s: float = 30.0  # how long one caller may hold a row while it talks to Stripe
    pending_grace_s: float = 60.0  # the reconciler leaves younger PENDING rows to their request
    stuck_after_s: float = 300.0  # the reconciler re-reads unsettled rows not read since
    max_refresh_interval_s: float = 6 * 3600.0
    batch_size: int = 100
