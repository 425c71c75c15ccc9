"""Stripe reads outside the event's transaction.

A handler runs inside the unit of work that marks the event processed; on SQLite that
transaction holds the database write lock (BEGIN IMMEDIATE), on PostgreSQL row locks.
A Stripe read in there would make every writer wait out Stripe's latency. So a handler
that needs one asks for it with ``await fetched(key, read)``: inside the webhook use case
the first call raises NeedsFetch, the use case rolls the transaction back, runs ``read()``
with no transaction open and applies the event again, when the same call returns the
result (or raises the error ``read()`` raised). Called outside the webhook use case (no
fetch scope), ``fetched`` simply reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_FETCHED: ContextVar[dict[str, object] | None] = ContextVar("event_fetched", default=None)


@dataclass(frozen=True, slots=True)
class _Failed:
    error: Exception


class NeedsFetch(Exception):
    """A handler needs ``read()`` done outside the transaction before it can apply the event."""

    def __init__(self, key: str, read: Callable[[], Awaitable[object]]) -> None:
        super().__init__(key)
        self.key = key
        self.read = read


async def fetched(key: str, read: Callable[[], Awaitable[T]]) -> T:
    """The result of ``read()`` (a Stripe read), done outside the event's transaction.

    ``key`` names the read (e.g. ``"charge:ch_123"``); the same key gives the same result
    within one application of an event. Errors of ``read()`` are raised here.
    """
    done = _FETCHED.get()
    if done is None:
        return await read()
    if key not in done:
        raise NeedsFetch(key, read)
    value = done[key]
    if isinstance(value, _Failed):
        raise value.error
    return value  # type: ignore[return-value]


class FetchScope:
    """The webhook use case's side of ``fetched``: results by key for one event."""

    def __init__(self) -> None:
        self._done: dict[str, object] = {}

    @contextmanager
    def active(self) -> Iterator[None]:
        token = _FETCHED.set(self._done)
        try:
            yield
        finally:
            _FETCHED.reset(token)

    async def serve(self, need: NeedsFetch) -> None:
        """Run the read a handler asked for (call this with no transaction open)."""
        try:
            self._done[need.key] = await need.read()
        except Exception as error:  # handed to the handler, which decides what it means
            self._done[need.key] = _Failed(error)

    @property
    def reads(self) -> int:
        return len(self._done)
