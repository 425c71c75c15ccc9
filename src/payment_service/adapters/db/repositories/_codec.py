"""Dataclass entities to rows and back, read off the entities' own field types.

A column per field, named as the field. StrEnum fields come back as their enum; a
field holding a dataclass, or a list of them (subscription items, a pending action,
invoice lines), is a JSON column of objects whose datetimes are ISO 8601 strings.
Everything else is stored as it is (the column types convert times and JSON).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

E = TypeVar("E")

Convert = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _without_none(hint: Any) -> Any:
    """``X | None`` → ``X``; any other hint as it is."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kept = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return kept[0] if len(kept) == 1 else hint
    return hint


def _is_dataclass_type(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


class RowCodec(Generic[E]):
    """How one dataclass becomes a row (``json=False``) or a JSON object (``json=True``)."""

    def __init__(self, cls: type[E], *, json: bool = False) -> None:
        self.cls = cls
        self.names = tuple(field.name for field in dataclasses.fields(cls))  # type: ignore[arg-type]
        hints = typing.get_type_hints(cls)
        self._decode: dict[str, Convert] = {}
        self._encode: dict[str, Convert] = {}
        self._readers: dict[tuple[str, ...], Callable[[Sequence[Any]], E]] = {}
        for name in self.names:
            decode, encode = _converters(_without_none(hints[name]), json=json)
            if decode is not _identity:
                self._decode[name] = decode
            if encode is not _identity:
                self._encode[name] = encode

    def entity(self, row: Mapping[Any, Any]) -> E:
        """The entity of a row (or JSON object); missing keys take the field's default."""
        values = {name: row[name] for name in self.names if name in row}
        for name, decode in self._decode.items():
            if values.get(name) is not None:
                values[name] = decode(values[name])
        return self.cls(**values)

    def reader(self, keys: Sequence[str]) -> Callable[[Sequence[Any]], E]:
        """``entity`` for rows given as tuples of ``keys`` (a result's columns, in order):
        made once per column list, it skips the per-field key look-ups, which cost most
        of ``entity``'s time on a list of many rows."""
        keys = tuple(keys)
        read = self._readers.get(keys)
        if read is None:
            read = self._readers[keys] = self._make_reader(keys)
        return read

    def _make_reader(self, keys: tuple[str, ...]) -> Callable[[Sequence[Any]], E]:
        # The fields' own (interned) strings: Python matches keyword arguments by identity
        # first; a result's column names are equal strings but other objects, and
        # matching ~40 of them by comparison cost more than the rest of the read.
        fields = {name: name for name in self.names}
        wanted = [(index, fields[name]) for index, name in enumerate(keys) if name in fields]
        names = tuple(name for _, name in wanted)
        indexes = tuple(index for index, _ in wanted)
        every = indexes == tuple(range(len(keys)))
        converts = [(name, _fast(self._decode[name])) for name in names if name in self._decode]
        cls = self.cls

        def read(row: Sequence[Any]) -> E:
            values = dict(zip(names, row if every else [row[i] for i in indexes], strict=True))
            for name, convert in converts:
                value = values[name]
                if value is not None:
                    values[name] = convert(value)
            return cls(**values)

        return read

    def row(self, entity: E, *, skip: Collection[str] = ()) -> dict[str, Any]:
        """The entity's fields as a column-name → value dict (shallow, no copies)."""
        values = {name: getattr(entity, name) for name in self.names if name not in skip}
        for name, encode in self._encode.items():
            if values.get(name) is not None:
                values[name] = encode(values[name])
        return values


def _fast(decode: Convert) -> Convert:
    """``decode``, or for a StrEnum a dict look-up of its members (calling the enum costs
    more); an unknown value still raises as the enum's call does."""
    if isinstance(decode, type) and issubclass(decode, StrEnum):
        members: dict[Any, Any] = {member.value: member for member in decode}
        return lambda value: members[value] if value in members else decode(value)
    return decode


def _converters(hint: Any, *, json: bool) -> tuple[Convert, Convert]:
    """(stored → field value, field value → stored) for a field of type ``hint``."""
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return hint, _identity
    if json and hint is datetime:
        return datetime.fromisoformat, datetime.isoformat
    if _is_dataclass_type(hint):
        nested = RowCodec(hint, json=True)
        return nested.entity, nested.row
    if typing.get_origin(hint) is list and _is_dataclass_type(typing.get_args(hint)[0]):
        each = RowCodec(typing.get_args(hint)[0], json=True)
        return (
            lambda values: [each.entity(value) for value in values],
            lambda items: [each.row(item) for item in items],
        )
    return _identity, _identity
