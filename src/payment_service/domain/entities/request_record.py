"""The remembered outcome of a mutating request that creates no row of its own (AIP-155)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.clock import utcnow

# The answer of a request that was accepted and sent to Stripe but not yet answered.
PENDING_RESPONSE = b'{"state":"pending"}'


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRecord:
    caller: str
    request_id: str
    method: str  # e.g. ``CapturePayment``
    request_hash: str
    resource_id: str
    response: bytes | None = None
    create_time: datetime = field(default_factory=utcnow)

    def matches(self, method: str, request_hash: str) -> bool:
        return self.method == method and self.request_hash == request_hash

    @property
    def pending(self) -> bool:
        """Recorded before its Stripe call, and not answered yet (a crash or a lost answer)."""
        return self.response == PENDING_RESPONSE
