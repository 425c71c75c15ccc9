"""PostgreSQL LISTEN as a wake-up for the event tail (never the carrier of events).

The outbox insert ``pg_notify``s ``payment_events`` (a statement trigger, migration 0012);
PostgreSQL delivers it at commit to every listening replica. A notification only says
"read the outbox now": payloads are capped and not durable, so the rows themselves are
always read from the table, and the tail also polls, so a lost notification (or this
connection away) costs at most the poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from payment_service.adapters.db.repositories.outbox import NOTIFY_CHANNEL

_log = logging.getLogger(__name__)
RECONNECT_S = 1.0


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+psycopg://…``) as a libpq connection string."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def listen_for_events(
    database_url: str, fire: Callable[[], None], stopping: asyncio.Event
) -> None:
    """LISTEN until ``stopping``; ``fire()`` on each notification (and on reconnecting,
    since notifications sent while away are lost)."""
    conninfo = libpq_url(database_url)
    while not stopping.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                fire()
                while not stopping.is_set():
                    async for _ in conn.notifies(timeout=1.0):
                        fire()
        except (psycopg.Error, OSError):
            _log.warning("event wake-up connection lost; reconnecting", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), RECONNECT_S)
