"""The shared request checks: a card number is refused in every kind of field without
being repeated back, nothing the caller sent is echoed unbounded, and a flood of bad
fields makes a short answer."""

from __future__ import annotations

import random
import uuid

import pytest

from payment_service.app.common.validation import (
    MAX_VIOLATIONS,
    Violations,
    has_written_card_number,
    is_loggable_request_id,
    is_valid_request_id,
    metadata_label,
)
from payment_service.domain.card_numbers import contains_card_number
from payment_service.domain.errors import InvalidArgument

PAN = "4242424242424242"
CARD = "must not contain a card number"


def _refusal(check: Violations) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as raised:
        check.raise_if_any()
    return raised.value


def _fields(check: Violations) -> dict[str, str]:
    return {v.field: v.description for v in check.items}


@pytest.mark.parametrize("value", [PAN, "4242-4242-4242-4242", f"req-{PAN}", "4000056655665556"])
def test_a_card_number_is_no_request_id(value: str) -> None:
    check = Violations()
    check.request_id(value)
    assert _fields(check) == {"request_id": CARD}
    assert not is_valid_request_id(value)
    assert value not in str(_refusal(check))


def test_a_spaced_card_number_is_no_request_id_either() -> None:
    check = Violations()
    check.request_id("4242 4242 4242 4242")
    assert set(_fields(check)) == {"request_id"}
    assert not is_valid_request_id("4242 4242 4242 4242")


def test_ordinary_request_ids_are_valid() -> None:
    for value in ("req-1", "b7c1f0b2-7a6e-4c8e-9d67-2b8f8f9f0a11", "order-123456789012"):
        check = Violations()
        check.request_id(value)
        assert check.items == [], value
        assert is_valid_request_id(value)
    assert not is_valid_request_id("")
    assert not is_valid_request_id("x" * 256)


def test_a_card_number_is_refused_in_ids_and_emails() -> None:
    check = Violations()
    check.account_id(f"acct_{PAN}")
    check.object_id(f"pay_{PAN}", "pay")
    check.stripe_id(f"pm_{PAN}", "pm", "stripe_payment_method_id", required=True)
    check.email(f"{PAN}@example.com", "receipt_email")
    check.email("buyer@example.com", "other_email")
    assert _fields(check) == {
        "account_id": CARD,
        "id": CARD,
        "stripe_payment_method_id": CARD,
        "receipt_email": CARD,
    }


def test_a_card_number_in_a_metadata_key_is_refused_without_naming_the_key() -> None:
    check = Violations()
    check.metadata({PAN: "x", "note": PAN, "ok": "fine"})
    assert _fields(check) == {"metadata": f"keys {CARD}", "metadata[note]": CARD}
    assert PAN not in str(_refusal(check))


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("order", "metadata[order]"),
        ("k" * 60, f"metadata[{'k' * 40}]"),
        ("ключ", "metadata"),
        ("a\nb", "metadata"),
        ("a[b]", "metadata"),
        (f"id-{PAN}", "metadata"),
    ],
)
def test_a_metadata_entry_is_named_by_its_key_only_when_the_key_is_plain(
    key: str, label: str
) -> None:
    assert metadata_label("metadata", key) == label


def test_an_unknown_currency_is_named_only_when_it_looks_like_a_code() -> None:
    allowed = frozenset({"usd", "eur"})
    check = Violations()
    check.currency("xyz", allowed)
    assert _fields(check)["currency_code"].startswith("'xyz' is not an accepted currency")
    huge = Violations()
    huge.currency("q" * 5000, allowed)
    description = _fields(huge)["currency_code"]
    assert description == "is not an accepted currency (eur, usd)"
    assert len(str(_refusal(huge))) < 200


def test_a_flood_of_violations_is_cut_to_a_short_answer() -> None:
    check = Violations()
    check.metadata({f"{PAN[:-1]}{n}"[:12] + "[x]" + str(n): "v" for n in range(500)})
    refusal = _refusal(check)
    assert len(refusal.violations) == MAX_VIOLATIONS
    assert refusal.message.endswith(f"and {check.dropped} more")
    assert check.dropped > 400
    assert len(refusal.message) < 1500


@pytest.mark.parametrize(
    "value",
    [
        PAN,
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        f"req-{PAN}",
        "req_4242-4242-4242-4242",
        "3782 822463 10005",  # American Express, 4-6-5
        "3056-930902-5904",  # Diners, 4-6-4
        "4222 2222 2222 2",  # a 13-digit Visa
    ],
)
def test_a_card_number_written_as_one_is_found_in_an_id(value: str) -> None:
    assert has_written_card_number(value)


def test_no_uuid_is_taken_for_a_card_number() -> None:
    """The free-text detector would refuse 0.7% of random UUIDs (their 8-4-4-4-12 groups
    join into Luhn-valid runs); as request ids they must all pass."""
    draw = random.Random(11)
    for _ in range(20_000):
        value = str(uuid.UUID(int=draw.getrandbits(128), version=4))
        assert is_valid_request_id(value), value
    assert contains_card_number("31415926-5358-4979-8323-846264338327")  # free text: refused
    assert is_valid_request_id("31415926-5358-4979-8323-846264338327")


def test_the_access_log_takes_only_request_ids_without_any_card_number() -> None:
    assert is_loggable_request_id("req-1")
    assert not is_loggable_request_id(PAN)
    assert not is_loggable_request_id(f"fuzz-1{PAN}")  # glued to a digit: valid, not logged
    assert is_valid_request_id(f"fuzz-1{PAN}")
    assert not is_loggable_request_id("x" * 300)


def test_a_card_number_inside_a_longer_digit_run_is_found() -> None:
    # Hypothesis found an id "subn_0000" + a test card: 20 digits, beyond a PAN's 19.
    assert contains_card_number("subn_00004242424242424242")
    assert contains_card_number("x" + "0" * 30 + "4242424242424242" + "0" * 30)
