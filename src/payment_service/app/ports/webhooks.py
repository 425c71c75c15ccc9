"""What the webhook use cases need from the outside: a signature check and metrics."""

from __future__ import annotations

from typing import Protocol


class WebhookRejected(Exception):
    """A delivery that must not be stored: bad or missing signature, stale or future timestamp."""


class MalformedEvent(Exception):
    """A verified body that is not a Stripe event (no JSON object, no id or type)."""


class WebhookVerifier(Protocol):
    @property
    def configured(self) -> bool:
        """False when no endpoint secret is set: the endpoint then answers 404."""
        ...

    def verify(self, payload: bytes, signature_header: str | None) -> None:
        """Raise WebhookRejected unless one configured secret signed ``payload`` recently."""
        ...


class WebhookMetricsSink(Protocol):
    def outcome(self, event_type: str, outcome: str) -> None:
        """Count one handled delivery or attempt: applied, ignored, quarantined, duplicate,
        failed or dead."""
        ...

    def backlog(self, state: str, count: int, oldest_age_s: float) -> None:
        """How many stored events are in ``state`` (failed, dead) and the age of the oldest."""
        ...

    def settled_after(self, seconds: float) -> None:
        """An event applied (or settled as ignored or quarantined) ``seconds`` after it
        arrived: within its delivery's request, or later by the retrier."""
        ...
