"""Gateways against the session's localstripe: direct, and through the outage proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from payment_service.adapters.stripe import StripeGateway, StripeGatewayConfig
from tests.support.localstripe import LocalStripe
from tests.support.outage_proxy import OutageProxy


@pytest_asyncio.fixture
async def gateway(localstripe: LocalStripe) -> AsyncIterator[StripeGateway]:
    gw = StripeGateway(
        StripeGatewayConfig(
            api_key=localstripe.api_key, api_base=localstripe.base_url, timeout_s=10.0
        )
    )
    try:
        yield gw
    finally:
        await gw.close()


@pytest_asyncio.fixture
async def proxied_gateway(
    outage_proxy: OutageProxy, localstripe: LocalStripe
) -> AsyncIterator[StripeGateway]:
    """Through the outage proxy, no stripe-python retries, 5 s timeout."""
    gw = StripeGateway(
        StripeGatewayConfig(
            api_key=localstripe.api_key,
            api_base=outage_proxy.base_url,
            timeout_s=5.0,
            max_network_retries=0,
        )
    )
    try:
        yield gw
    finally:
        await gw.close()
