"""The stored row a Stripe event is about: found by the Stripe object's id, else by our
own id from the object's metadata (a create whose answer is not stored yet), locked."""

from __future__ import annotations

from typing import TypeVar

from payment_service.app.ports.events import ObjectNotYetKnown
from payment_service.app.ports.storage import LockingStore

E = TypeVar("E")


async def locked_subject(
    rows: LockingStore[E], kind: str, stripe_id: str, our_id: str | None
) -> E | None:
    """The row, locked until the unit of work ends; None for an object this service did
    not create (no id of ours). ObjectNotYetKnown (retry later) when the object names a
    row of ours that is not visible yet."""
    row = await rows.find_by_stripe_id(stripe_id, for_update=True)
    if row is not None or our_id is None:
        return row
    row = await rows.get_for_update(our_id)
    if row is None:
        raise ObjectNotYetKnown(f"{kind} {our_id} of {stripe_id}")
    return row
