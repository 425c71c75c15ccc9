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
from collections.abc import Callable, Collection, Mapping
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

    def row(self, entity: E, *, skip: Collection[str] = ()) -> dict[str, Any]:
        """The entity's fields as a column-name → value dict (shallow, no copies)."""
        values = {name: getattr(entity, name) for name in self.names if name not in skip}
        for name, encode in self._encode.items():
            if values.get(name) is not None:
                values[name] = encode(values[name])
        return values


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
