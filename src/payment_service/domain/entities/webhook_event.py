"""A Stripe webhook event as received, and how far we got applying it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.clock import utcnow
from payment_service.domain.states import WebhookEventState
from payment_service.domain.transitions import WEBHOOK_EVENT_TRANSITIONS


@dataclass(slots=True, kw_only=True)
class WebhookEvent:
    id: str
    stripe_event_id: str
    type: str
    created: datetime  # the event's time at Stripe
    payload: str  # the event JSON exactly as received
    state: WebhookEventState = WebhookEventState.RECEIVED
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None  # when the retry loop may pick it up
    processed_at: datetime | None = None
    receive_time: datetime = field(default_factory=utcnow)
    update_time: datetime = field(default_factory=utcnow)
    trace_parent: str | None = None  # W3C traceparent of the delivery that stored it
    object_id: str | None = None  # the Stripe id of data.object: events apply in order per object

    def move_to(self, target: WebhookEventState) -> None:
        WEBHOOK_EVENT_TRANSITIONS.check("webhook_event", self.id, self.state, target)
        if target is not self.state:
            self.state = target
        self.update_time = utcnow()

    def mark_processed(self, now: datetime | None = None) -> None:
        self.move_to(WebhookEventState.PROCESSED)
        self.attempts += 1
        self.processed_at = now or utcnow()
        self.next_attempt_at = None
        self.last_error = None

    def mark_failed(self, error: str, next_attempt_at: datetime) -> None:
        """An attempt failed; try again at ``next_attempt_at``."""
        self.move_to(WebhookEventState.FAILED)
        self.attempts += 1
        self.last_error = error
        self.next_attempt_at = next_attempt_at

    def mark_dead(self, error: str) -> None:
        """An attempt failed and no retries are left."""
        self.move_to(WebhookEventState.DEAD)
        self.attempts += 1
        self.last_error = error
        self.next_attempt_at = None

    def quarantine(self, reason: str) -> None:
        self.move_to(WebhookEventState.QUARANTINED)
        self.last_error = reason
        self.next_attempt_at = None

    def ignore(self, reason: str | None = None) -> None:
        self.move_to(WebhookEventState.IGNORED)
        self.last_error = reason
        self.next_attempt_at = None

    def requeue_for_replay(self, now: datetime | None = None) -> None:
        """Operator replay: a failed, dead or quarantined event goes back to the queue
        with a fresh retry budget."""
        self.move_to(WebhookEventState.RECEIVED)
        self.attempts = 0
        self.next_attempt_at = now or utcnow()
