"""Every write with a failpoint after its Stripe call, as a crash case."""

from __future__ import annotations

from tests.e2e.crash import billing, methods, payments
from tests.e2e.crash.matrix import Case

CASES: tuple[Case, ...] = (*payments.CASES, *methods.CASES, *billing.CASES)
