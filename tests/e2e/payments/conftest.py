"""A full in-process stack per test, on each database backend, against localstripe."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from tests.support.localstripe import LocalStripe
from tests.support.outage_proxy import OutageProxy
from tests.support.stack import Stack, stack_settings, start_stack


@pytest_asyncio.fixture(loop_scope="session")
async def stack(
    database_url: str,
    uow_factory: SqlUnitOfWorkFactory,
    localstripe: LocalStripe,
    outage_proxy: OutageProxy,
) -> AsyncIterator[Stack]:
    running = await start_stack(
        stack_settings(database_url, outage_proxy.base_url, payment_refresh_after_s=0.5)
    )
    try:
        yield running
    finally:
        await running.stop()
