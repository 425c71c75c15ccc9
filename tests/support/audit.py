"""Reading the audit trail back in tests: the rows about one object, filtered."""

from __future__ import annotations

from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.domain.entities import AuditEntry


async def audited(
    uow_factory: UnitOfWorkFactory,
    subject: tuple[str, str],
    *,
    action: str | None = None,
    via: str | None = None,
) -> list[AuditEntry]:
    """The rows about ``subject`` (type, id), oldest first; only ``action``'s, only those
    written ``via`` a reconciler task or an operator command, when given."""
    async with uow_factory(read_only=True) as uow:
        rows = await uow.audit.list_for_object(*subject)
    return [
        row
        for row in rows
        if (action is None or row.action == action)
        and (via is None or row.detail.get("via") == via)
    ]
