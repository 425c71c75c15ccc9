"""What every entity mirroring one Stripe object shares: its state, the observation tail.

The state moves only through the transition table of its state enum;
``remote_updated_at`` is the time of the newest Stripe observation applied, so an
older one never moves the state back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from payment_service.domain.clock import refresh_due, utcnow
from payment_service.domain.processor import RemoteIntent
from payment_service.domain.transitions import TransitionTable, table_for

S = TypeVar("S", bound=StrEnum)


def linked_id(current: str | None, stripe_id: str) -> tuple[str, bool]:
    """The Stripe id a row keeps (its own once linked, even against a stale observation)
    and whether this observation linked it."""
    return (stripe_id, True) if current is None else (current, False)


def first_mismatch(*checks: tuple[str, object, object]) -> str | None:
    """The first of the ``(what, Stripe's value, ours)`` checks where Stripe contradicts us."""
    for what, remote, stored in checks:
        if remote != stored:
            return f"{what} {remote} != stored {stored}"
    return None


def customer_mismatch(stored: str | None, remote: str | None) -> str | None:
    """How Stripe's customer contradicts the stored one, when both are known and differ."""
    if stored and remote and remote != stored:
        return f"customer {remote} != stored {stored}"
    return None


@dataclass(slots=True, kw_only=True)
class StripeMirror(Generic[S]):
    id: str
    state: S
    remote_updated_at: datetime | None = None  # time of the newest Stripe observation applied
    synced_at: datetime | None = None  # when we last read the object from Stripe
    create_time: datetime = field(default_factory=utcnow)
    update_time: datetime = field(default_factory=utcnow)
    version: int = 0

    @property
    def transitions(self) -> TransitionTable[S]:
        return table_for(self.state)

    @property
    def is_final(self) -> bool:
        return self.transitions.is_terminal(self.state)

    def move_to(self, target: S) -> None:
        """Move by our own decision; raise InvalidTransition when the table forbids it."""
        self.transitions.move(self, target)

    def apply_remote_state(self, target: S, observed_at: datetime) -> bool:
        """Apply a state seen at Stripe; False (and no change) when stale or not allowed."""
        return self.transitions.observe(self, target, observed_at)

    @property
    def last_read(self) -> datetime:
        """When we last knew Stripe's view of it (its creation, before any read)."""
        return self.synced_at or self.create_time

    def refresh_due(self, now: datetime, *, min_s: float, max_s: float) -> bool:
        """Whether to re-read it from Stripe now, on the backoff of ``clock.refresh_due``."""
        return refresh_due(
            created=self.create_time, last_read=self.last_read, now=now, min_s=min_s, max_s=max_s
        )


@dataclass(slots=True, kw_only=True)
class IntentMirror(StripeMirror[S]):
    """A row mirroring a Stripe PaymentIntent or SetupIntent: what the client has to do next."""

    client_secret: str | None = None
    next_action_type: str | None = None
    next_action_url: str | None = None
    last_error_code: str | None = None
    last_error_decline_code: str | None = None
    last_error_message: str | None = None

    def copy_client_step(self, remote: RemoteIntent) -> None:
        """Copy Stripe's next action and last error (the secret is kept when it sends none)."""
        self.client_secret = remote.client_secret or self.client_secret
        self.next_action_type = remote.next_action_type
        self.next_action_url = remote.next_action_url
        self.last_error_code = remote.last_error_code
        self.last_error_decline_code = remote.last_error_decline_code
        self.last_error_message = remote.last_error_message
