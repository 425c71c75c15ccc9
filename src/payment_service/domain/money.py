"""Money: integer minor units plus a lowercase ISO 4217 code, never floating point.

Where an amount meets its currency: the currency's exponent (0, 2 or 3 decimal
digits) and what Stripe accepts as a charge in it (a minimum per currency, at
most eight digits, three-decimal amounts ending in 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Stripe's zero-decimal and three-decimal currencies; every other currency has two decimals.
ZERO_DECIMAL_CURRENCIES: Final = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL_CURRENCIES: Final = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})

# Stripe's largest amount: eight digits of minor units.
MAX_CHARGE_MINOR_UNITS: Final = 99_999_999
# Stripe's smallest charge per settlement currency, in minor units; 0.50 of the unit elsewhere.
MIN_CHARGE_MINOR_UNITS: Final = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50,
    "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50,
    "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200,
    "sek": 300, "sgd": 50, "thb": 1000,
}  # fmt: skip


def currency_exponent(currency: str) -> int:
    """Number of decimal digits of the currency's minor unit (0, 2 or 3)."""
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (1050 = 10.50 USD, 500 = 500 JPY) and its currency."""

    amount: int
    currency: str

    @property
    def exponent(self) -> int:
        return currency_exponent(self.currency)

    def format(self) -> str:
        """``"10.50 USD"``, ``"500 JPY"``, ``"1.230 KWD"``."""
        exponent = self.exponent
        sign = "-" if self.amount < 0 else ""
        digits = str(abs(self.amount))
        if exponent == 0:
            return f"{sign}{digits} {self.currency.upper()}"
        digits = digits.rjust(exponent + 1, "0")
        return f"{sign}{digits[:-exponent]}.{digits[-exponent:]} {self.currency.upper()}"

    def __str__(self) -> str:
        return self.format()

    def charge_problem(self) -> str | None:
        """Why Stripe would refuse to charge this amount, or None when it is chargeable."""
        if self.amount <= 0:
            return "must be greater than 0"
        if self.amount > MAX_CHARGE_MINOR_UNITS:
            return f"must be at most {Money(MAX_CHARGE_MINOR_UNITS, self.currency)}"
        minimum = MIN_CHARGE_MINOR_UNITS.get(self.currency.lower(), 10**self.exponent // 2)
        if self.amount < minimum:
            return f"must be at least {Money(minimum, self.currency)}"
        if self.exponent == 3 and self.amount % 10:
            return f"{self.currency.upper()} amounts must end in 0 (Stripe charges whole 0.01s)"
        return None
