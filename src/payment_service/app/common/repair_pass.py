"""One reconciler pass over rows to repair, each counted in the task's tally."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from payment_service.app.common.repair import RepairTally
from payment_service.domain.entities.mirror import StripeMirror
from payment_service.domain.errors import DomainError, ResourceExhausted, Unavailable

log = logging.getLogger(__name__)


T = TypeVar("T", bound=StripeMirror[Any])


async def repair_each(
    tally: RepairTally,
    rows: Sequence[T],
    repair: Callable[[T], Awaitable[T]],
    still_unresolved: Callable[[T], bool],
    *,
    failure: str,
    id_key: str,
) -> None:
    """Repair each row; stop at the first Unavailable (Stripe is away: the next pass tries).

    A row whose repair fails is logged as ``failure`` (its id under ``id_key``).
    """
    for index, row in enumerate(rows):
        try:
            repaired = await repair(row)
        except DomainError as error:
            log.warning(failure, extra={id_key: row.id, "reason": error.reason})
            tally.errors += 1
            if isinstance(error, Unavailable | ResourceExhausted):
                for left in rows[index:]:
                    tally.unresolved(left.create_time)
                return
            tally.unresolved(row.create_time)
            continue
        if still_unresolved(repaired):
            tally.unresolved(repaired.create_time)
        else:
            tally.repaired += 1
