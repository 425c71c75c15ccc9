"""Audit rows for every mutation: who, what, which object, outcome, trace id."""

from __future__ import annotations

from collections.abc import Mapping

from payment_service.app.common.request_context import current_trace_id
from payment_service.app.ports.storage import UnitOfWork
from payment_service.domain.entities import AuditEntry
from payment_service.domain.ids import new_id


async def audit(
    uow: UnitOfWork,
    actor: str,
    action: str,
    subject: tuple[str, str],
    outcome: str = "ok",
    detail: Mapping[str, str] | None = None,
) -> None:
    """Add the audit row to ``uow``: it commits with the change it describes, or not at all.

    ``subject`` is the object acted on: (type, id), e.g. ``("payment", "pay_…")``.
    """
    object_type, object_id = subject
    await uow.audit.add(
        AuditEntry(
            id=new_id("aud"),
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            outcome=outcome,
            trace_id=current_trace_id.get(),
            detail=dict(detail or {}),
        )
    )
