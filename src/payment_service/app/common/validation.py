"""Request checks shared by the use cases. Each collects every violation it finds,
so a caller learns about all bad fields at once; nothing is stored or sent first."""

from __future__ import annotations

import re
from collections.abc import Mapping

from payment_service.domain.card_numbers import contains_card_number
from payment_service.domain.errors import FieldViolation, InvalidArgument
from payment_service.domain.money import MAX_CHARGE_MINOR_UNITS, Money

MAX_AMOUNT = MAX_CHARGE_MINOR_UNITS
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_LENGTH = 40
MAX_METADATA_VALUE_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 1000
MAX_ACCOUNT_ID_LENGTH = 64
MAX_REQUEST_ID_LENGTH = 255

_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9_.:@-]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CARD_NUMBER_MESSAGE = "must not contain a card number"


class Violations:
    """Collects field violations and raises them together."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.items.append(FieldViolation(field, description))

    def raise_if_any(self) -> None:
        if self.items:
            summary = "; ".join(f"{v.field}: {v.description}" for v in self.items)
            raise InvalidArgument(f"invalid request: {summary}", violations=self.items)

    def request_id(self, value: str) -> None:
        if not value:
            self.add("request_id", "is required")
        elif len(value) > MAX_REQUEST_ID_LENGTH or not _PRINTABLE_ASCII.fullmatch(value):
            self.add(
                "request_id", f"must be 1 to {MAX_REQUEST_ID_LENGTH} printable ASCII characters"
            )

    def account_id(self, value: str, field: str = "account_id") -> None:
        if not value:
            self.add(field, "is required")
        elif len(value) > MAX_ACCOUNT_ID_LENGTH or not _ACCOUNT_ID.fullmatch(value):
            self.add(
                field, f"must be 1 to {MAX_ACCOUNT_ID_LENGTH} characters of A-Z a-z 0-9 _ . : @ -"
            )

    def object_id(self, value: str, prefix: str, field: str = "id") -> None:
        if not value:
            self.add(field, "is required")
        elif (
            not value.startswith(prefix + "_")
            or len(value) > 64
            or not _PRINTABLE_ASCII.fullmatch(value)
        ):
            self.add(field, f"must be an id starting with {prefix}_")

    def stripe_id(self, value: str, prefix: str, field: str, *, required: bool) -> None:
        if not value:
            if required:
                self.add(field, "is required")
            return
        if (
            not value.startswith(prefix + "_")
            or len(value) > 255
            or not _PRINTABLE_ASCII.fullmatch(value)
        ):
            self.add(field, f"must be a Stripe id starting with {prefix}_")

    def amount(self, value: int, field: str = "amount", maximum: int = MAX_AMOUNT) -> None:
        if value <= 0:
            self.add(field, "must be greater than 0")
        elif value > maximum:
            self.add(field, f"must be at most {maximum}")

    def charge_amount(self, value: int, currency: str, field: str = "amount") -> None:
        """An amount Stripe will charge in ``currency`` (checked once the currency is valid)."""
        if not currency:  # its own violation names the problem; check the range only
            self.amount(value, field)
            return
        problem = Money(value, currency).charge_problem()
        if problem is not None:
            self.add(field, problem)

    def currency(self, value: str, allowed: frozenset[str], field: str = "currency_code") -> str:
        """The normalized code, or "" (with a violation) when it is not one of ``allowed``."""
        code = value.strip().lower()
        if not code:
            self.add(field, "is required")
        elif code not in allowed:
            self.add(field, f"{value!r} is not an accepted currency ({', '.join(sorted(allowed))})")
            return ""
        return code

    def free_text(self, value: str, field: str, max_length: int) -> None:
        if len(value) > max_length:
            self.add(field, f"must be at most {max_length} characters")
        elif contains_card_number(value):
            self.add(field, _CARD_NUMBER_MESSAGE)

    def email(self, value: str, field: str) -> None:
        if value and (len(value) > 254 or not _EMAIL.fullmatch(value)):
            self.add(field, "must be an email address")

    def metadata(
        self,
        value: Mapping[str, str],
        field: str = "metadata",
        *,
        reserved_keys: tuple[str, ...] = (),
    ) -> None:
        """Stripe's limits (50 keys, 40-character keys, 500-character values), less the keys we add."""
        most = MAX_METADATA_KEYS - len(reserved_keys)
        if len(value) > most:
            self.add(field, f"must have at most {most} keys")
        for key in reserved_keys:
            if key in value:
                self.add(f"{field}[{key}]", "is reserved for the service's own use")
        for key, item in value.items():
            if not key:
                self.add(field, "keys must not be empty")
            elif len(key) > MAX_METADATA_KEY_LENGTH:
                self.add(
                    f"{field}[{key[:40]}]",
                    f"key must be at most {MAX_METADATA_KEY_LENGTH} characters",
                )
            elif "[" in key or "]" in key:
                self.add(f"{field}[{key}]", "key must not contain square brackets")
            if len(item) > MAX_METADATA_VALUE_LENGTH:
                self.add(
                    f"{field}[{key[:40]}]",
                    f"value must be at most {MAX_METADATA_VALUE_LENGTH} characters",
                )
            elif contains_card_number(item) or contains_card_number(key):
                self.add(f"{field}[{key[:40]}]", _CARD_NUMBER_MESSAGE)
