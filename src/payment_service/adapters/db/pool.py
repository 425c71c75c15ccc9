"""The engine's connection pool, telling an observer when a checkout had to wait.

A checkout waits when every connection the pool may open (pool size + overflow) is in
use; it then waits up to the pool timeout for one to come back, and fails with
SQLAlchemy's TimeoutError past it. ``measured_pool_class`` makes an
AsyncAdaptedQueuePool that times such checkouts (and only those: the others never
block) for ``observer``.
"""

from __future__ import annotations

import time
from typing import Protocol

from sqlalchemy import exc
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry


class PoolObserver(Protocol):
    def waited(self, seconds: float, *, timed_out: bool) -> None:
        """A checkout found the pool exhausted and waited ``seconds`` (in vain if
        ``timed_out``)."""
        ...


def measured_pool_class(observer: PoolObserver, max_overflow: int) -> type[AsyncAdaptedQueuePool]:
    class MeasuredPool(AsyncAdaptedQueuePool):
        def _do_get(self) -> ConnectionPoolEntry:
            if self.checkedin() > 0 or self.overflow() < max_overflow:
                return super()._do_get()
            started = time.perf_counter()
            timed_out = False
            try:
                return super()._do_get()
            except exc.TimeoutError:
                timed_out = True
                raise
            finally:
                observer.waited(time.perf_counter() - started, timed_out=timed_out)

    return MeasuredPool
