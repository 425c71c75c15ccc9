"""One audit log line: who did what to which object, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.domain.clock import utcnow


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    id: str
    actor: str  # token ``sub``, or ``stripe`` / ``reconciler`` for system actions
    action: str  # e.g. ``payments.create``, ``webhook.payment_intent.succeeded``
    object_type: str
    object_id: str
    outcome: str  # ``ok`` or an error reason such as ``CARD_DECLINED``
    trace_id: str | None = None
    detail: dict[str, str] = field(default_factory=dict)
    # Of the RPC that caused it (None for webhooks and background work):
    account_id: str | None = None  # the account the request named, or the caller's own
    request_id: str | None = None
    peer: str | None = None  # the caller's address, as gRPC reports it
    certificate: str | None = None  # the client certificate's subject, under mutual TLS
    time: datetime = field(default_factory=utcnow)
