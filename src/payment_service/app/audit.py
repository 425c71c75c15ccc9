"""Audit entries for every mutation: who, what, which object, outcome, trace id."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar

from payment_service.domain.entities import AuditEntry
from payment_service.domain.ids import new_id

# Set by the API layer (and the webhook sidecar) for the current request.
current_trace_id: ContextVar[str | None] = ContextVar("payment_service_trace_id", default=None)


def audit_entry(
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    outcome: str = "ok",
    detail: Mapping[str, str] | None = None,
) -> AuditEntry:
    return AuditEntry(
        id=new_id("aud"),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        trace_id=current_trace_id.get(),
        detail=dict(detail or {}),
    )
