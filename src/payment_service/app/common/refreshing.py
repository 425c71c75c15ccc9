"""A read's refresh from Stripe: Stripe's current view, or what is stored when Stripe
cannot be read (the caller is answered either way)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from payment_service.domain.entities.mirror import StripeMirror
from payment_service.domain.errors import DomainError

log = logging.getLogger(__name__)

T = TypeVar("T", bound=StripeMirror[Any])


async def refreshed_or_stored(row: T, refresh: Callable[[T], Awaitable[T]], kind: str) -> T:
    """``refresh(row)``, or the stored ``row`` when that raises (logged as a warning)."""
    try:
        return await refresh(row)
    except DomainError as error:
        log.warning(
            f"could not refresh {kind} from Stripe",
            extra={f"{kind}_id": row.id, "reason": error.reason},
        )
        return row
