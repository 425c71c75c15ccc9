"""Where one CreatePayment + ConfirmPayment pair waits, timed in process (write_path.py
``--timing``): every SQL statement (by verb and table), every COMMIT, the unit of work's
pool checkout, every Redis command, every Stripe request, in milliseconds per pair."""

from __future__ import annotations

import collections
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_service.adapters.db.tracing import span_name


class Timings:
    def __init__(self) -> None:
        self.total: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()
        self.on = False

    def add(self, name: str, seconds: float) -> None:
        if self.on:
            self.total[name] += seconds
            self.calls[name] += 1

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - began)

    def report(self, pairs: int) -> str:
        lines = [f"{'what':44} {'ms/pair':>8} {'calls/pair':>10} {'ms/call':>8}"]
        for name, seconds in self.total.most_common():
            calls = self.calls[name]
            lines.append(
                f"{name:44} {seconds * 1000 / pairs:8.2f} {calls / pairs:10.1f} "
                f"{seconds * 1000 / calls:8.3f}"
            )
        return "\n".join(lines)


def _wrap_async(timings: Timings, owner: Any, attribute: str, name: Callable[..., str]) -> None:
    original: Callable[..., Awaitable[Any]] = getattr(owner, attribute)

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            timings.add(name(*args, **kwargs), time.perf_counter() - began)

    setattr(owner, attribute, wrapped)


def instrument(engine: AsyncEngine) -> Timings:
    """Timers on ``engine``'s statements and on the classes every pair goes through."""
    import redis.asyncio

    from payment_service.adapters.db.repositories import _base
    from payment_service.adapters.db.uow import SqlUnitOfWork
    from payment_service.adapters.stripe.measured_http import MeasuredHTTPClient, route_template

    timings = Timings()
    started: dict[int, float] = {}

    def before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        started[id(conn)] = time.perf_counter()

    def after(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        began = started.pop(id(conn), None)
        if began is not None:
            timings.add(f"sql {span_name(statement)}", time.perf_counter() - began)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    _wrap_async(
        timings, SqlUnitOfWork, "commit", lambda *a, **k: "uow commit (COMMIT, with the held rows)"
    )
    _wrap_async(timings, SqlUnitOfWork, "__aenter__", lambda *a, **k: "uow enter (checkout)")
    _wrap_async(timings, SqlUnitOfWork, "__aexit__", lambda *a, **k: "uow exit (rollback, checkin)")
    _wrap_async(
        timings,
        redis.asyncio.Redis,
        "execute_command",
        lambda self, *args, **kwargs: f"redis {args[0]}",
    )
    _wrap_async(
        timings,
        _base,
        "executed",
        lambda *a, **k: "sql on psycopg directly (with its BEGIN when idle)",
    )
    _wrap_async(
        timings,
        MeasuredHTTPClient,
        "request_async",
        lambda self, method, url, *a, **k: f"stripe {method.upper()} {route_template(url)}",
    )
    return timings
