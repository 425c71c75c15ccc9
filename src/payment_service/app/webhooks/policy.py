"""How stored Stripe events are retried, and what one delivery or attempt came to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from payment_service.app.ports.events import ObjectNotYetKnown, OutcomeKind
from payment_service.domain.entities import WebhookEvent
from payment_service.domain.errors import Aborted, ResourceExhausted, Unavailable

# Errors that say "not now" rather than "never": an event that died of one of them is
# worth another round of retries (the reconciler requeues it).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    Unavailable,
    ResourceExhausted,
    Aborted,
    ObjectNotYetKnown,
    TimeoutError,
)
_TRANSIENT_PREFIXES = tuple(f"{cls.__name__}: " for cls in TRANSIENT_ERRORS)


class Delivery(StrEnum):
    APPLIED = "applied"
    IGNORED = "ignored"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"  # already stored: nothing done
    ACCEPTED = "accepted"  # stored; the appliers apply it
    DEFERRED = "deferred"  # stored; applying failed and is retried later
    SKIPPED = "skipped"  # the retrier found the event already taken or finished


DELIVERY_OF = {
    OutcomeKind.APPLIED: Delivery.APPLIED,
    OutcomeKind.IGNORED: Delivery.IGNORED,
    OutcomeKind.QUARANTINED: Delivery.QUARANTINED,
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    # 2 s doubling to 600 s, then every 600 s: 450 attempts last about 3 days, the time
    # Stripe itself keeps retrying a delivery.
    max_attempts: int = 450
    base_delay_s: float = 2.0
    max_delay_s: float = 600.0
    # How long a claimed event stays invisible to other replicas; keep it above the
    # longest attempt (Stripe timeout x (retries + 1) per read, plus a margin).
    lease_s: float = 90.0
    batch_size: int = 20
    max_reads: int = 4  # Stripe reads one application of an event may ask for

    def delay(self, attempts: int) -> timedelta:
        """Wait after the ``attempts``-th failed attempt: base, 2x base, 4x base … capped."""
        exponent = max(attempts - 1, 0)
        seconds = min(self.base_delay_s * (2 ** min(exponent, 32)), self.max_delay_s)
        return timedelta(seconds=seconds)

    def budget(self) -> timedelta:
        """From the first failed attempt to the last retry before the event is DEAD."""
        return sum((self.delay(n) for n in range(1, self.max_attempts)), timedelta())


def died_of_transient_error(record: WebhookEvent) -> bool:
    """The event's last error is one that goes away by itself (TRANSIENT_ERRORS)."""
    return (record.last_error or "").startswith(_TRANSIENT_PREFIXES)
