from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_service.app.common.validation import Violations
from payment_service.domain.errors import InvalidArgument
from payment_service.domain.money import (
    MAX_CHARGE_MINOR_UNITS,
    MIN_CHARGE_MINOR_UNITS,
    Money,
    currency_exponent,
)


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("usd", 2), ("eur", 2), ("jpy", 0), ("krw", 0), ("kwd", 3), ("bhd", 3), ("USD", 2)],
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
        (Money(1230, "kwd"), "1.230 KWD"),
        (Money(0, "bhd"), "0.000 BHD"),
    ],
)
def test_format(money: Money, text: str) -> None:
    assert money.format() == text
    assert str(money) == text


@pytest.mark.parametrize(
    ("money", "problem"),
    [
        (Money(0, "usd"), "must be greater than 0"),
        (Money(49, "usd"), "must be at least 0.50 USD"),
        (Money(29, "gbp"), "must be at least 0.30 GBP"),
        (Money(49, "jpy"), "must be at least 50 JPY"),
        (Money(MAX_CHARGE_MINOR_UNITS + 1, "usd"), "must be at most 999999.99 USD"),
        (Money(1235, "kwd"), "KWD amounts must end in 0 (Stripe charges whole 0.01s)"),
    ],
)
def test_what_stripe_will_not_charge(money: Money, problem: str) -> None:
    assert money.charge_problem() == problem


@pytest.mark.parametrize(
    "money",
    [Money(50, "usd"), Money(30, "gbp"), Money(50, "jpy"), Money(1230, "kwd"), Money(500, "eur")],
)
def test_chargeable_amounts(money: Money) -> None:
    assert money.charge_problem() is None


def test_an_unlisted_currency_needs_half_of_its_unit() -> None:
    assert "zar" not in MIN_CHARGE_MINOR_UNITS
    assert Money(49, "zar").charge_problem() == "must be at least 0.50 ZAR"
    assert Money(50, "zar").charge_problem() is None


@given(st.integers(min_value=1, max_value=MAX_CHARGE_MINOR_UNITS))
def test_a_jpy_amount_is_chargeable_exactly_from_the_minimum(amount: int) -> None:
    assert (Money(amount, "jpy").charge_problem() is None) == (amount >= 50)


def test_validation_names_the_field_with_the_currency_rule() -> None:
    check = Violations()
    check.charge_amount(49, "usd")
    with pytest.raises(InvalidArgument) as raised:
        check.raise_if_any()
    [violation] = raised.value.violations
    assert (violation.field, violation.description) == ("amount", "must be at least 0.50 USD")


def test_validation_without_a_valid_currency_checks_only_the_range() -> None:
    check = Violations()
    check.charge_amount(10, "")
    check.raise_if_any()  # the currency's own violation names the problem
    check.charge_amount(0, "")
    assert [v.field for v in check.items] == ["amount"]
