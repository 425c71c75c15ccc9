"""Money: integer minor units plus a lowercase ISO 4217 code, never floating point."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from payment_service.domain.errors import InvalidArgument

# Stripe's zero-decimal and three-decimal currencies; every other currency has two decimals.
ZERO_DECIMAL_CURRENCIES: Final = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL_CURRENCIES: Final = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})

# Amounts are stored as BIGINT.
MAX_MINOR_UNITS: Final = 2**63 - 1

_CODE = re.compile(r"[a-z]{3}")
_DECIMAL = re.compile(r"(?P<sign>-?)(?P<whole>\d+)(?:\.(?P<fraction>\d+))?")


class CurrencyMismatch(InvalidArgument):
    """Arithmetic or comparison between two different currencies."""

    default_reason = "CURRENCY_MISMATCH"

    def __init__(self, left: str, right: str) -> None:
        super().__init__(
            f"cannot combine {left.upper()} with {right.upper()}",
            metadata={"currency": left, "other_currency": right},
        )


def validate_currency_code(code: str, field: str = "currency") -> str:
    """Return the lowercase code; raise InvalidArgument naming ``field`` unless it is 3 letters."""
    if not isinstance(code, str):
        raise InvalidArgument.field(field, "must be a three-letter ISO 4217 code")
    normalized = code.strip().lower()
    if not _CODE.fullmatch(normalized):
        raise InvalidArgument.field(field, f"{code!r} is not a three-letter ISO 4217 code")
    return normalized


def currency_exponent(currency: str) -> int:
    """Number of decimal digits of the currency's minor unit (0, 2 or 3)."""
    code = validate_currency_code(currency)
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def _check_minor_units(amount: object, field: str) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(
            f"{field} must be an int number of minor units, got {type(amount).__name__}"
        )
    if abs(amount) > MAX_MINOR_UNITS:
        raise InvalidArgument.field(field, "is out of range")
    return amount


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (1050 = 10.50 USD, 500 = 500 JPY) and its currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        _check_minor_units(self.amount, "amount")
        object.__setattr__(self, "currency", validate_currency_code(self.currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse ``"10.50"`` or ``"10.50 USD"`` exactly; refuse digits the currency lacks."""
        code = validate_currency_code(currency)
        if not isinstance(text, str):
            raise InvalidArgument.field("amount", "must be a decimal string")
        body = text.strip()
        number, _, suffix = body.partition(" ")
        if suffix and suffix.strip().lower() != code:
            raise CurrencyMismatch(code, suffix.strip().lower())
        match = _DECIMAL.fullmatch(number)
        if match is None:
            raise InvalidArgument.field("amount", f"{text!r} is not a decimal number")
        exponent = currency_exponent(code)
        fraction = match["fraction"] or ""
        if len(fraction) > exponent:
            raise InvalidArgument.field(
                "amount", f"{code.upper()} has {exponent} decimal digits, got {len(fraction)}"
            )
        minor = int(match["whole"]) * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
        return cls(-minor if match["sign"] else minor, code)

    @property
    def exponent(self) -> int:
        return currency_exponent(self.currency)

    def format(self) -> str:
        """``"10.50 USD"``, ``"500 JPY"``, ``"1.234 KWD"``."""
        exponent = self.exponent
        sign = "-" if self.amount < 0 else ""
        digits = str(abs(self.amount))
        if exponent == 0:
            return f"{sign}{digits} {self.currency.upper()}"
        digits = digits.rjust(exponent + 1, "0")
        return f"{sign}{digits[:-exponent]}.{digits[-exponent:]} {self.currency.upper()}"

    def __str__(self) -> str:
        return self.format()

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(self.currency, other.currency)

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount >= other.amount

    def is_zero(self) -> bool:
        return self.amount == 0

    def is_positive(self) -> bool:
        return self.amount > 0
