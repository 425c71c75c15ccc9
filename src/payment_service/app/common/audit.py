"""Audit rows for every mutation: who, what, which object, outcome, trace id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import TypeVar

from payment_service.app.common.audit_context import (
    RpcFacts,
    current_rpc_facts,
    current_system_actor,
    system_actor_or,
)
from payment_service.app.common.request_context import active_trace_id
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.entities import AuditEntry
from payment_service.domain.errors import Conflict
from payment_service.domain.ids import new_id

T = TypeVar("T")

REFRESH_ACTOR = "stripe"  # who a re-read from Stripe is, unless a system actor is at work


def audit_entry(
    actor: str,
    action: str,
    subject: tuple[str, str],
    outcome: str = "ok",
    detail: Mapping[str, str] | None = None,
    *,
    facts: RpcFacts | None = None,
) -> AuditEntry:
    """The audit row of one mutation, for ``uow.audit.add`` (or ``add_many``, a batch of them)
    in the unit of work of the change it describes: it commits with the change, or not at all.

    ``subject`` is the object acted on: (type, id), e.g. ``("payment", "pay_…")``. Work
    done by the reconciler or an operator says so in ``detail["via"]``. ``facts`` stand in
    for the RPC's where the row is written outside it (refused authentications).
    """
    object_type, object_id = subject
    facts = facts or current_rpc_facts()
    details = dict(detail or {})
    system = current_system_actor()
    if system is not None:
        details.setdefault("via", system.via)
    return AuditEntry(
        id=new_id("aud"),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        trace_id=active_trace_id(),
        detail=details,
        account_id=facts.account_id,
        request_id=facts.request_id,
        peer=facts.peer,
        certificate=facts.certificate,
    )


async def insert_or_winner(
    uow_factory: UnitOfWorkFactory,
    row: T,
    *,
    add: Callable[[UnitOfWork], Awaitable[object]],
    winner: Callable[[], Awaitable[T | None]],
    audit: AuditEntry,
) -> tuple[T, bool]:
    """Insert ``row`` (``add``) with its ``audit`` row: ``(row, True)``.

    When a unique key says another replica inserted the same first (Conflict), that
    replica's row: ``(winner, False)``; the Conflict stands if ``winner`` finds none.
    """
    try:
        async with uow_factory() as uow:
            await add(uow)
            await uow.audit.add(audit)
            await uow.commit()
    except Conflict:
        found = await winner()
        if found is None:
            raise
        return found, False
    return row, True


async def audit_refresh(
    uow: UnitOfWork,
    action: str,
    subject: tuple[str, str],
    outcome: str,
    detail: Mapping[str, str],
) -> None:
    """Audit what a re-read from Stripe did, as the system actor at work (the reconciler,
    an operator) or else as ``REFRESH_ACTOR``."""
    await uow.audit.add(
        audit_entry(system_actor_or(REFRESH_ACTOR), action, subject, outcome, detail)
    )


async def audit_refresh_move(
    uow: UnitOfWork, action: str, subject: tuple[str, str], before: StrEnum, after: StrEnum
) -> None:
    """A re-read that moved the object to another state is audited (the new state, and
    where from); one that left it where it was is not."""
    if after is not before:
        await audit_refresh(uow, action, subject, after.value, {"from": before.value})
