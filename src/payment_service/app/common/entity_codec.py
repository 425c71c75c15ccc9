"""Entities to and from compact JSON bytes, for the cache.

Field types come from the dataclass annotations, so the codec needs no
per-entity code: datetimes travel as ISO strings, enums as their values.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

T = TypeVar("T")


def encode_entity(entity: object) -> bytes:
    if not dataclasses.is_dataclass(entity) or isinstance(entity, type):
        raise TypeError(f"not a dataclass instance: {type(entity).__name__}")
    body = {f.name: _encode_value(getattr(entity, f.name)) for f in dataclasses.fields(entity)}
    return json.dumps(body, separators=(",", ":")).encode()


def decode_entity(cls: type[T], data: bytes) -> T:
    body = json.loads(data)
    hints = _hints(cls)
    return cls(**{name: _decode_value(hints[name], value) for name, value in body.items()})


def _encode_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_encode_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _encode_value(item) for key, item in value.items()}
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _decode_value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _decode_value(options[0], value) if len(options) == 1 else value
    if origin in (list, tuple):
        (item_hint, *_) = typing.get_args(hint) or (Any,)
        items = [_decode_value(item_hint, item) for item in value]
        return items if origin is list else tuple(items)
    if origin is dict:
        return dict(value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        nested = _hints(hint)
        return hint(**{name: _decode_value(nested[name], item) for name, item in value.items()})
    return value
