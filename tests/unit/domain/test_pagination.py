from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from payment_service.domain.errors import InvalidArgument
from payment_service.domain.pagination import (
    Cursor,
    PageRequest,
    decode_page_token,
    encode_page_token,
    filter_fingerprint,
)

FILTERS = {"list": "payments", "account_id": "acct_1", "states": ["succeeded"]}
CURSOR = Cursor(datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "pay_1")


@pytest.mark.parametrize(("requested", "size"), [(0, 50), (1, 1), (200, 200), (201, 200)])
def test_page_size(requested: int, size: int) -> None:
    assert PageRequest(requested).size == size


def test_negative_page_size_names_the_field() -> None:
    with pytest.raises(InvalidArgument) as info:
        PageRequest(-1)
    assert info.value.violations[0].field == "page_size"


def test_token_round_trip() -> None:
    token = encode_page_token(CURSOR, filter_fingerprint(FILTERS))
    assert "=" not in token
    assert PageRequest(10, token).cursor(FILTERS) == CURSOR
    assert PageRequest(10).cursor(FILTERS) is None


def test_fingerprint_ignores_order_of_set_like_filters() -> None:
    assert filter_fingerprint({"states": ["a", "b"]}) == filter_fingerprint({"states": ("b", "a")})


@pytest.mark.parametrize(
    "token",
    [
        "garbage!!",
        "e30",  # {}
        base64.urlsafe_b64encode(b"[1,2]").decode(),
        base64.urlsafe_b64encode(json.dumps({"t": "nope", "i": "x", "f": "y"}).encode()).decode(),
        base64.urlsafe_b64encode(
            json.dumps(
                {"t": "2025-01-01T00:00:00", "i": "x", "f": filter_fingerprint(FILTERS)}
            ).encode()
        ).decode(),
        "x" * 2000,
    ],
)
def test_garbage_tokens_are_invalid_page_tokens(token: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        PageRequest(10, token).cursor(FILTERS)
    assert info.value.violations[0].field == "page_token"


def test_token_of_other_filters_is_refused() -> None:
    token = encode_page_token(CURSOR, filter_fingerprint(FILTERS))
    with pytest.raises(InvalidArgument):
        decode_page_token(token, filter_fingerprint({**FILTERS, "account_id": "acct_2"}))


def test_page_of_sets_a_token_only_when_more_rows_exist() -> None:
    request = PageRequest(2)
    rows = [CURSOR, Cursor(CURSOR.create_time, "pay_0")]
    assert request.page_of(rows, lambda c: c, FILTERS).next_page_token == ""
    page = request.page_of([*rows, Cursor(CURSOR.create_time, "pay_00")], lambda c: c, FILTERS)
    assert page.items == rows
    assert PageRequest(2, page.next_page_token).cursor(FILTERS) == rows[-1]
    assert not page.is_last
