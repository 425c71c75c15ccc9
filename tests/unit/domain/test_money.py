from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_service.domain.errors import InvalidArgument
from payment_service.domain.money import (
    MAX_MINOR_UNITS,
    CurrencyMismatch,
    Money,
    currency_exponent,
    validate_currency_code,
)

CURRENCIES = st.sampled_from(["usd", "eur", "jpy", "krw", "kwd", "bhd", "gbp", "clp"])
AMOUNTS = st.integers(min_value=-(10**15), max_value=10**15)


def test_currency_is_stored_lowercase() -> None:
    assert Money(1050, "USD").currency == "usd"
    assert Money(1050, "usd") == Money(1050, "USD")


@pytest.mark.parametrize(
    ("currency", "exponent"), [("usd", 2), ("eur", 2), ("jpy", 0), ("krw", 0), ("kwd", 3)]
)
def test_exponents(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(1050, "usd"), "10.50 USD"),
        (Money(5, "usd"), "0.05 USD"),
        (Money(-5, "usd"), "-0.05 USD"),
        (Money(500, "jpy"), "500 JPY"),
        (Money(1234, "kwd"), "1.234 KWD"),
        (Money(0, "bhd"), "0.000 BHD"),
    ],
)
def test_format(money: Money, text: str) -> None:
    assert money.format() == text
    assert str(money) == text


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("10.50", "usd", 1050),
        ("10.5", "usd", 1050),
        ("10", "usd", 1000),
        ("500", "jpy", 500),
        ("1.234", "kwd", 1234),
        ("-0.01", "eur", -1),
        ("10.50 USD", "usd", 1050),
    ],
)
def test_parse(text: str, currency: str, minor: int) -> None:
    assert Money.parse(text, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("10.505", "usd"),
        ("500.5", "jpy"),
        ("1.2345", "kwd"),
        ("1e3", "usd"),
        ("", "usd"),
        ("ten", "usd"),
        ("1,50", "eur"),
        ("0x10", "usd"),
    ],
)
def test_parse_refuses_inexact_or_malformed(text: str, currency: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        Money.parse(text, currency)
    assert info.value.violations[0].field == "amount"


def test_parse_refuses_another_currency_suffix() -> None:
    with pytest.raises(CurrencyMismatch):
        Money.parse("10.50 EUR", "usd")


def test_same_currency_arithmetic_and_comparison() -> None:
    a, b = Money(1050, "usd"), Money(250, "usd")
    assert a + b == Money(1300, "usd")
    assert a - b == Money(800, "usd")
    assert -b == Money(-250, "usd")
    assert b < a
    assert b <= a
    assert a > b
    assert a >= b
    assert a >= Money(1050, "usd")


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_mixing_currencies_raises(operation: object) -> None:
    with pytest.raises(CurrencyMismatch) as info:
        operation(Money(100, "usd"), Money(100, "eur"))  # type: ignore[operator]
    assert isinstance(info.value, InvalidArgument)
    assert info.value.reason == "CURRENCY_MISMATCH"


def test_different_currencies_are_never_equal() -> None:
    assert Money(100, "usd") != Money(100, "eur")


@pytest.mark.parametrize("amount", [10.5, 10.0, True, False, "1050", None])
def test_refuses_non_int_amounts(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "usd")  # type: ignore[arg-type]


def test_refuses_amounts_beyond_bigint() -> None:
    Money(MAX_MINOR_UNITS, "usd")
    with pytest.raises(InvalidArgument):
        Money(MAX_MINOR_UNITS + 1, "usd")
    with pytest.raises(InvalidArgument):
        Money(MAX_MINOR_UNITS, "usd") + Money(1, "usd")


@pytest.mark.parametrize("code", ["us", "usdd", "u$d", "123", "", "ü$d"])
def test_validate_currency_code_refuses(code: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        validate_currency_code(code)
    assert info.value.violations[0].field == "currency"


def test_validate_currency_code_normalizes() -> None:
    assert validate_currency_code(" EUR ") == "eur"


def test_money_is_immutable() -> None:
    money = Money(1, "usd")
    with pytest.raises(AttributeError):
        money.amount = 2  # type: ignore[misc]


@given(AMOUNTS, CURRENCIES)
def test_format_then_parse_round_trips(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert Money.parse(money.format(), currency) == money
    assert Money.parse(money.format().split(" ")[0], currency) == money


@given(AMOUNTS, AMOUNTS, CURRENCIES)
def test_add_and_subtract_are_inverse(a: int, b: int, currency: str) -> None:
    x, y = Money(a, currency), Money(b, currency)
    assert (x + y) - y == x
    assert (x - y) + y == x
    assert x + y == y + x
