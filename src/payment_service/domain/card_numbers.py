"""Detects card numbers (PANs) in free text so they are never accepted or stored.

A PAN is 13 to 19 digits, possibly grouped by spaces or dashes, that passes
the Luhn check. Anything that looks like one is refused, even when it is a
test card: callers must never send card data to this service (PCI DSS SAQ A).
"""

from __future__ import annotations

import re

# Digit runs of 13 or more that may be separated by single spaces or dashes (as printed on
# cards); a run longer than 19 digits is a candidate too, for the PAN inside it.
_CANDIDATE = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,}(?!\d)")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def contains_card_number(text: str) -> bool:
    """True when ``text`` holds a Luhn-valid run of 13 to 19 digits."""
    if sum(c.isdigit() for c in text) < 13:
        return False
    for match in _CANDIDATE.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        # A longer run can hide a PAN inside it; check every 13-19 digit window.
        for length in range(13, min(19, len(digits)) + 1):
            for start in range(len(digits) - length + 1):
                if luhn_valid(digits[start : start + length]):
                    return True
    return False
