"""The relay's cursor in the database, over the reconciler's key/value state table."""

from __future__ import annotations

from payment_service.app.ports.event_stream import RelayCursor
from payment_service.app.ports.storage import UnitOfWorkFactory

RELAY_CURSOR_KEY = "outbox_relay.nats_position"


class StoredRelayCursor:
    """Implements app.ports.event_stream.RelayCursor."""

    def __init__(self, uow_factory: UnitOfWorkFactory, key: str = RELAY_CURSOR_KEY) -> None:
        self._uow_factory = uow_factory
        self._key = key

    async def load(self) -> int:
        async with self._uow_factory() as uow:
            value = await uow.reconciler_state.get(self._key)
        return int(value) if value is not None and value.isdigit() else 0

    async def save(self, position: int) -> None:
        async with self._uow_factory() as uow:
            await uow.reconciler_state.set(self._key, str(position))
            await uow.commit()


def _conforms(cursor: StoredRelayCursor) -> RelayCursor:
    return cursor  # mypy checks the port is implemented
