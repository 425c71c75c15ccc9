"""Database exceptions turned into domain errors, for PostgreSQL (psycopg) and SQLite."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import exc as sa_exc

from payment_service.adapters.db.tables import metadata
from payment_service.domain.errors import Aborted, Conflict, Unavailable

_PG_UNIQUE_VIOLATION = "23505"
_PG_RETRYABLE = {"40001", "40P01"}  # serialization failure, deadlock detected
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?P<columns>[\w.]+(?:, [\w.]+)*)")


def _sqlite_unique_names() -> dict[tuple[str, tuple[str, ...]], str]:
    """``(table, columns) -> constraint name`` for every unique constraint and primary key."""
    names: dict[tuple[str, tuple[str, ...]], str] = {}
    for table in metadata.tables.values():
        for constraint in table.constraints:
            columns = tuple(column.name for column in getattr(constraint, "columns", ()))
            if constraint.name and columns:
                names[(table.name, columns)] = str(constraint.name)
    return names


_SQLITE_UNIQUE_NAMES = _sqlite_unique_names()


def unique_constraint_name(error: sa_exc.IntegrityError) -> str | None:
    """The violated unique constraint's name, or None when ``error`` is another integrity error."""
    original = error.orig
    if getattr(original, "sqlstate", None) == _PG_UNIQUE_VIOLATION:
        diag = getattr(original, "diag", None)
        return str(getattr(diag, "constraint_name", None) or "unique")
    match = _SQLITE_UNIQUE.search(str(original))
    if match is None:
        return None
    qualified = match["columns"].split(", ")
    table = qualified[0].split(".")[0]
    columns = tuple(name.split(".", 1)[1] for name in qualified)
    return _SQLITE_UNIQUE_NAMES.get((table, columns), f"uq_{table}_{'_'.join(columns)}")


@contextmanager
def translated_driver_errors() -> Iterator[None]:
    """``translated_errors`` for the statements sent on psycopg directly (raw_read.py,
    deferred.py, raw_statement.py): the same domain errors from psycopg's own, and any
    other as the SQLAlchemy error SQLAlchemy would have raised for it (a foreign key's
    IntegrityError, say), so callers see one set of errors whichever way it went."""
    try:
        yield
    except psycopg.Error as error:
        if error.sqlstate == _PG_UNIQUE_VIOLATION:
            name = str(getattr(error.diag, "constraint_name", None) or "unique")
            raise Conflict(
                f"a row with the same key already exists ({name})", constraint=name
            ) from error
        if error.sqlstate in _PG_RETRYABLE:
            raise Aborted("the transaction lost a race with a concurrent one") from error
        if isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)):
            raise Unavailable("the database is unavailable or timed out") from error
        raise sa_exc.DBAPIError.instance(None, None, error, psycopg.Error) from error


@contextmanager
def translated_errors() -> Iterator[None]:
    """Unique violations → Conflict; lost races → Aborted; unreachable/timeouts → Unavailable."""
    try:
        yield
    except sa_exc.IntegrityError as error:
        name = unique_constraint_name(error)
        if name is None:
            raise
        raise Conflict(
            f"a row with the same key already exists ({name})", constraint=name
        ) from error
    except sa_exc.DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) in _PG_RETRYABLE:
            raise Aborted("the transaction lost a race with a concurrent one") from error
        if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            raise Unavailable("the database is unavailable or timed out") from error
        raise
    except sa_exc.TimeoutError as error:
        raise Unavailable("no database connection became free in time") from error
