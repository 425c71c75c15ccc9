"""The in-memory "database" behind the fake unit of work: tables of rows, their keys, row
locks, and the transaction that works on a copy of the rows.

Mirrors what the SQL adapters rely on (adapters/db/tables.py and repositories/_base.py):

- primary keys, unique constraints (a NULL column never collides) and foreign keys, with
  the constraint names of the real schema, so ``Conflict.constraint`` reads the same;
- a transaction sees a deep copy of the committed rows taken when it began (and its own
  writes); a locking read (``FOR UPDATE``) waits for the row's lock and then reads the
  newest committed row, as PostgreSQL does under READ COMMITTED;
- ``update`` of a versioned row finds the newest committed version (``Aborted`` when it
  moved); two open transactions that both write a row: the first to commit wins, the
  other's commit raises ``Aborted`` (versioned) or ``Conflict`` (a key taken meanwhile).
  (PostgreSQL makes the second writer wait for the first and then fail; writers that lock
  the row first with ``get_for_update``, as the use cases do, get the same outcome here);
- after ``Conflict`` the transaction is unusable until it is rolled back or left.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from payment_service.domain.clock import utcnow
from payment_service.domain.entities import Customer, Payment, Refund
from payment_service.domain.errors import Aborted, Conflict

Key = Hashable
Rows = dict[Key, Any]


class ForeignKeyViolation(Exception):
    """A row names a parent row that does not exist (the SQL adapters raise the driver's
    IntegrityError here: a bug in the caller or the test data, never a domain error)."""


@dataclass(frozen=True, slots=True)
class Unique:
    name: str
    columns: tuple[str, ...]

    def key_of(self, row: object) -> tuple[object, ...] | None:
        values = tuple(getattr(row, column) for column in self.columns)
        return None if any(value is None for value in values) else values


@dataclass(frozen=True, slots=True)
class ForeignKey:
    name: str
    column: str
    parent: str


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    primary_key: tuple[str, ...] = ("id",)
    uniques: tuple[tuple[str, ...], ...] = ()
    foreign_keys: tuple[tuple[str, str], ...] = ()  # (column, parent table)
    versioned: bool = False

    @property
    def pk(self) -> Unique:
        return Unique(f"pk_{self.name}", self.primary_key)

    @property
    def unique_constraints(self) -> tuple[Unique, ...]:
        return tuple(Unique(f"uq_{self.name}_{'_'.join(cols)}", cols) for cols in self.uniques)

    @property
    def foreign_key_constraints(self) -> tuple[ForeignKey, ...]:
        return tuple(
            ForeignKey(f"fk_{self.name}_{column}_{parent}", column, parent)
            for column, parent in self.foreign_keys
        )

    def key(self, row: object) -> Key:
        values = tuple(getattr(row, column) for column in self.primary_key)
        return values[0] if len(values) == 1 else values


_CALLER_REQUEST = ("caller", "request_id")

SCHEMA: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec("customers", uniques=(("account_id",), ("stripe_customer_id",))),
        TableSpec(
            "payment_methods",
            uniques=(("stripe_payment_method_id",),),
            foreign_keys=(("customer_id", "customers"),),
        ),
        TableSpec(
            "transactions",
            uniques=(_CALLER_REQUEST, ("stripe_payment_intent_id",)),
            foreign_keys=(("customer_id", "customers"), ("invoice_id", "invoices")),
            versioned=True,
        ),
        TableSpec("request_records", primary_key=_CALLER_REQUEST),
        TableSpec(
            "refunds",
            uniques=(_CALLER_REQUEST, ("stripe_refund_id",)),
            foreign_keys=(("payment_id", "transactions"),),
            versioned=True,
        ),
        TableSpec("prices", uniques=(("stripe_price_id",),)),
        TableSpec(
            "subscriptions",
            uniques=(_CALLER_REQUEST, ("stripe_subscription_id",)),
            foreign_keys=(("customer_id", "customers"),),
            versioned=True,
        ),
        TableSpec(
            "invoices",
            uniques=(("stripe_invoice_id",),),
            foreign_keys=(("customer_id", "customers"), ("subscription_id", "subscriptions")),
            versioned=True,
        ),
        TableSpec(
            "disputes",
            uniques=(("stripe_dispute_id",),),
            foreign_keys=(("payment_id", "transactions"),),
            versioned=True,
        ),
        TableSpec(
            "setup_intents",
            uniques=(_CALLER_REQUEST, ("stripe_setup_intent_id",)),
            foreign_keys=(("customer_id", "customers"), ("payment_method_id", "payment_methods")),
            versioned=True,
        ),
        TableSpec("webhook_events", uniques=(("stripe_event_id",),)),
        TableSpec("reconciler_state", primary_key=("key",)),
        TableSpec("audit_log"),
        TableSpec("event_outbox", primary_key=("position",)),
    )
}


@dataclass(slots=True)
class StateRow:
    """A row of ``reconciler_state``."""

    key: str
    value: str
    update_time: datetime = field(default_factory=utcnow)


class InMemoryStorage:
    """The shared "database": the committed rows of every table, by primary key.

    Tests may read (and, to simulate a change behind the service's back, edit) the
    committed rows directly: ``storage.payments[payment_id].state``.
    """

    def __init__(self) -> None:
        self.tables: dict[str, Rows] = {name: {} for name in SCHEMA}
        self.commits = 0
        self.lock_holders: dict[tuple[str, Key], Transaction] = {}

    @property
    def customers(self) -> dict[str, Customer]:
        return self.tables["customers"]  # type: ignore[return-value]

    @property
    def payments(self) -> dict[str, Payment]:
        return self.tables["transactions"]  # type: ignore[return-value]

    @property
    def refunds(self) -> dict[str, Refund]:
        return self.tables["refunds"]  # type: ignore[return-value]

    def rows(self, table: str) -> list[Any]:
        """Committed rows of ``table`` in insertion order (a test's view, not a copy)."""
        return list(self.tables[table].values())


class Transaction:
    """One transaction over ``InMemoryStorage``; the repositories' only way to the rows."""

    def __init__(self, storage: InMemoryStorage, *, read_only: bool) -> None:
        self._storage = storage
        self._read_only = read_only
        self._task = asyncio.current_task()
        self._released = asyncio.Event()
        self._held: set[tuple[str, Key]] = set()
        self._begin()

    def _begin(self) -> None:
        self._rows: dict[str, Rows] = copy.deepcopy(self._storage.tables)
        self._base: dict[tuple[str, Key], int | None] = {}  # committed version at first write
        self._broken: str | None = None

    # --- reads ------------------------------------------------------------------------
    def get(self, table: str, key: Key) -> Any:
        self._usable()
        row = self._rows[table].get(key)
        return copy.deepcopy(row) if row is not None else None

    def select(self, table: str, where: Callable[[Any], bool]) -> list[Any]:
        self._usable()
        return [copy.deepcopy(row) for row in self._rows[table].values() if where(row)]

    def is_locked_by_other(self, table: str, key: Key) -> bool:
        holder = self._storage.lock_holders.get((table, key))
        return holder is not None and holder is not self

    async def lock(self, table: str, key: Key) -> None:
        """Take the row lock (wait for its holder to finish), then see the newest committed row."""
        self._usable()
        target = (table, key)
        while True:
            holder = self._storage.lock_holders.get(target)
            if holder is None or holder is self:
                break
            if holder._task is asyncio.current_task():
                raise RuntimeError(
                    f"{table} row {key!r} is locked by another open unit of work of this "
                    "task: a real database would wait forever"
                )
            await holder._released.wait()
        self._storage.lock_holders[target] = self
        self._held.add(target)
        if target not in self._base:
            committed = self._storage.tables[table].get(key)
            if committed is None:
                self._rows[table].pop(key, None)
            else:
                self._rows[table][key] = copy.deepcopy(committed)

    # --- writes -----------------------------------------------------------------------
    def current(self, table: str, key: Key) -> Any:
        """The row an UPDATE would find: our own write, else the newest committed row."""
        self._usable()
        if (table, key) in self._base:
            return self._rows[table].get(key)
        return self._storage.tables[table].get(key)

    def insert(self, table: str, row: object) -> None:
        spec = SCHEMA[table]
        key = spec.key(row)
        if key in self._rows[table] or key in self._storage.tables[table]:
            self._conflict(spec.pk.name)
        self._write(spec, key, row, base=None)

    def replace(self, table: str, row: object) -> None:
        spec = SCHEMA[table]
        key = spec.key(row)
        committed = self._storage.tables[table].get(key)
        self._write(spec, key, row, base=getattr(committed, "version", 0))

    def _write(self, spec: TableSpec, key: Key, row: object, *, base: int | None) -> None:
        self._usable()
        if self._read_only:
            raise RuntimeError(f"a read-only unit of work wrote to {spec.name}")
        stored = copy.deepcopy(row)
        for unique in spec.unique_constraints:
            if self._collides(spec, unique, key, stored):
                self._conflict(unique.name)
        for foreign in spec.foreign_key_constraints:
            parent = getattr(stored, foreign.column)
            if parent is not None and not self._exists(foreign.parent, parent):
                raise ForeignKeyViolation(f"{foreign.name}: no {foreign.parent} {parent!r}")
        self._rows[spec.name][key] = stored
        self._base.setdefault((spec.name, key), base)

    def _exists(self, table: str, key: Key) -> bool:
        return key in self._storage.tables[table] or (table, key) in self._base

    def _latest(self, table: str) -> Iterator[tuple[Key, Any]]:
        """Every row as the database would check a key now: committed rows, with ours on top."""
        committed = self._storage.tables[table]
        for key, row in committed.items():
            yield key, self._rows[table][key] if (table, key) in self._base else row
        for written_table, key in self._base:
            if written_table == table and key not in committed:
                yield key, self._rows[table][key]

    def _collides(self, spec: TableSpec, unique: Unique, key: Key, row: object) -> bool:
        wanted = unique.key_of(row)
        return wanted is not None and any(
            other_key != key and unique.key_of(other) == wanted
            for other_key, other in self._latest(spec.name)
        )

    def _conflict(self, constraint: str) -> None:
        self._broken = constraint
        raise Conflict(
            f"a row with the same key already exists ({constraint})", constraint=constraint
        )

    # --- the end of a transaction -----------------------------------------------------
    def commit(self) -> None:
        self._usable()
        for (table, key), base in self._base.items():
            self._check_still_valid(SCHEMA[table], key, base)
        for table, key in self._base:
            self._storage.tables[table][key] = copy.deepcopy(self._rows[table][key])
        self._storage.commits += 1
        self._release_locks()
        self._begin()

    def _check_still_valid(self, spec: TableSpec, key: Key, base: int | None) -> None:
        """Rows committed by others since we wrote: what the database would refuse."""
        committed = self._storage.tables[spec.name].get(key)
        if base is None and committed is not None:
            self._conflict(spec.pk.name)
        if spec.versioned and committed is not None and committed.version != base:
            self._broken = "aborted"
            raise Aborted(f"{spec.name} row {key} changed concurrently", metadata={"id": str(key)})
        row = self._rows[spec.name][key]
        for unique in spec.unique_constraints:
            if self._collides(spec, unique, key, row):
                self._conflict(unique.name)

    def rollback(self) -> None:
        self._release_locks()
        self._begin()

    def close(self) -> None:
        self._release_locks()
        self._rows = {}
        self._base = {}

    def _release_locks(self) -> None:
        for target in self._held:
            if self._storage.lock_holders.get(target) is self:
                del self._storage.lock_holders[target]
        self._held.clear()
        self._released.set()
        self._released = asyncio.Event()

    def _usable(self) -> None:
        if self._broken is not None:
            raise RuntimeError(
                f"the unit of work is unusable after {self._broken}; leave it and open a new one"
            )
