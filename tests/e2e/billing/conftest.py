"""A full in-process stack per test on each database backend, localstripe's webhooks
delivered to its sidecar."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from payments.v1 import invoice_service_pb2_grpc, subscription_service_pb2_grpc

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from tests.e2e.billing.support import (
    BillingStack,
    account,
    register_webhooks,
    unregister_webhooks,
)
from tests.integration.webhooks.support import SECRET
from tests.support.localstripe import LocalStripe
from tests.support.stack import stack_settings, start_stack


@pytest_asyncio.fixture(loop_scope="session")
async def billing(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> AsyncIterator[BillingStack]:
    settings = stack_settings(
        database_url,
        localstripe.base_url,
        payment_refresh_after_s=0.5,
        stripe_webhook_secrets=[SECRET],
        webhook_retry_poll_s=0.2,
        webhook_retry_base_s=0.2,
    )
    stack = await start_stack(settings)
    webhook_id = await register_webhooks(localstripe, stack)
    try:
        yield BillingStack(
            stack=stack,
            localstripe=localstripe,
            subscriptions=subscription_service_pb2_grpc.SubscriptionServiceStub(stack.channel),
            invoices=invoice_service_pb2_grpc.InvoiceServiceStub(stack.channel),
            account_id=account(),
        )
    finally:
        await unregister_webhooks(localstripe, stack, webhook_id)
        await stack.stop()
