"""An in-process stack per test on each database backend, with a Stripe that is never
reachable: validation at the edge must answer before anything is sent to Stripe, and a
request that gets past it fails fast (UNAVAILABLE) instead of waiting on the network."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from tests.e2e.validation.fuzz import CALLS
from tests.support.server import UNREACHABLE_STRIPE
from tests.support.stack import Stack, stack_settings, start_stack


@pytest_asyncio.fixture(loop_scope="session")
async def edge(database_url: str, uow_factory: SqlUnitOfWorkFactory) -> AsyncIterator[Stack]:
    running = await start_stack(stack_settings(database_url, UNREACHABLE_STRIPE))
    try:
        yield running
    finally:
        await running.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fuzz test's calls by status code, one line per backend."""
    if not CALLS:
        return
    terminalreporter.write_sep("-", "fuzz calls by status code")
    for backend in sorted({backend for backend, _ in CALLS}):
        counts = sorted(
            ((code, n) for (b, code), n in CALLS.items() if b == backend), key=lambda x: -x[1]
        )
        total = sum(n for _, n in counts)
        shown = ", ".join(f"{code} {n}" for code, n in counts)
        terminalreporter.write_line(f"{backend}: {total} calls: {shown}")
