from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from payment_service.domain.ids import IdPrefix, id_time, is_valid_id, new_id

CROCKFORD = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


@pytest.mark.parametrize("prefix", list(IdPrefix))
def test_shape(prefix: IdPrefix) -> None:
    value = new_id(prefix)
    head, _, ulid = value.partition("_")
    assert head == prefix.value
    assert CROCKFORD.fullmatch(ulid)
    assert is_valid_id(prefix, value)


def test_prefixes() -> None:
    assert [p.value for p in IdPrefix] == [
        "cust",
        "pay",
        "pmt",
        "rfd",
        "subn",
        "inv",
        "price",
        "whe",
        "aud",
        "dsp",
        "setup",
    ]


def test_ids_sort_in_creation_order_even_within_a_millisecond() -> None:
    ids = [new_id("pay") for _ in range(5000)]
    assert sorted(ids) == ids
    assert len(set(ids)) == len(ids)


def test_id_carries_its_creation_time() -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    created = id_time(new_id("pay"))
    assert before <= created <= datetime.now(UTC) + timedelta(milliseconds=1)


@pytest.mark.parametrize(
    "value",
    [
        "pay_",
        "pay_123",
        "rfd_01JB8X2J1Z7Q0T7Y4M3W5N6P8R",
        "pay01JB8X2J1Z7Q0T7Y4M3W5N6P8R",
        "pay_01JB8X2J1Z7Q0T7Y4M3W5N6P8U",
        "pay_81JB8X2J1Z7Q0T7Y4M3W5N6P8R",
    ],
)
def test_is_valid_id_refuses(value: str) -> None:
    assert not is_valid_id("pay", value)


@pytest.mark.parametrize("prefix", ["", "a_b"])
def test_bad_prefix(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        new_id(prefix)
