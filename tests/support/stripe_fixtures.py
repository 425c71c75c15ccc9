"""Stripe's own example objects, vendored in tests/fixtures/stripe/fixtures3.json.

The one way tests read that file (see tests/fixtures/stripe/README.md for where
it comes from). It is read and parsed once per process.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "stripe"
FIXTURES_PATH = FIXTURES_DIR / "fixtures3.json"


@cache
def stripe_fixtures() -> Mapping[str, Any]:
    """Every example object by resource name (``payment_intent``, ``refund``, ``event`` …).

    Shared by every caller and read-only at the top level: do not change the
    objects in it; take :func:`stripe_fixture` for a copy to change.
    """
    resources: dict[str, Any] = json.loads(FIXTURES_PATH.read_text(encoding="utf-8"))["resources"]
    return MappingProxyType(resources)


def stripe_fixture(name: str) -> dict[str, Any]:
    """A deep copy of Stripe's example ``name`` object, free to change; KeyError if unknown."""
    return copy.deepcopy(stripe_fixtures()[name])
