"""RowCodec.reader: rows as tuples of a result's columns become the entities ``entity``
makes of the same rows as mappings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import pytest

from payment_service.adapters.db.repositories._codec import RowCodec


class Color(StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclass(kw_only=True)
class Item:
    id: str
    color: Color
    size: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    seen: datetime | None = None


CODEC = RowCodec(Item)
WHEN = datetime(2026, 1, 2, tzinfo=UTC)


def test_reader_makes_what_entity_makes_in_any_column_order() -> None:
    keys = ("seen", "tags", "id", "size", "color")
    row = (WHEN, {"a": "b"}, "itm_1", None, "blue")
    read = CODEC.reader(keys)
    assert read(row) == CODEC.entity(dict(zip(keys, row, strict=True)))
    assert read(row) == Item(id="itm_1", color=Color.BLUE, tags={"a": "b"}, seen=WHEN)
    assert type(read(row).color) is Color


def test_columns_that_are_not_fields_are_skipped_and_missing_fields_take_defaults() -> None:
    keys = ("version", "color", "id", "extra")
    read = CODEC.reader(keys)
    assert read((3, "red", "itm_2", "x")) == Item(id="itm_2", color=Color.RED)


def test_a_reader_is_made_once_per_column_list() -> None:
    # Column names as a driver hands them: equal strings, not the fields' own objects.
    keys = tuple("".join(list(name)) for name in ("id", "color"))
    assert CODEC.reader(keys) is CODEC.reader(("id", "color"))
    assert CODEC.reader(keys)(("itm_3", "red")) == Item(id="itm_3", color=Color.RED)


def test_an_unknown_enum_value_is_refused_as_the_enum_refuses_it() -> None:
    read = CODEC.reader(("id", "color"))
    with pytest.raises(ValueError, match="green"):
        read(("itm_4", "green"))
