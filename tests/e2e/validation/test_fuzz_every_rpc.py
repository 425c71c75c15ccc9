"""Property-based fuzzing of every RPC of the four services through a real in-process
server (SQLite, and PostgreSQL when there), with rows of every kind seeded so that ids
can hit something.

Whatever is sent: never INTERNAL or UNKNOWN, never RESOURCE_EXHAUSTED from trailers
that outgrew the client's limit (only Stripe's rate limit may say so), small error
details that never repeat a card number, no log line with a card number, and an
INVALID_ARGUMENT answer changes no table's row count. The calls are counted by status
code and shown in the run's summary (``FUZZ_EXAMPLES`` sets how many; 300 by default).
"""

from __future__ import annotations

import asyncio
import logging
import os

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.domain.ids import new_id
from payment_service.domain.states import PaymentState
from payment_service.observability.logs import JsonFormatter
from tests.e2e.validation.fuzz import CALLS, PANS, Pools, bodies, sent_pans
from tests.e2e.validation.support import call, methods, path, row_counts
from tests.integration.db import builders
from tests.support.stack import Stack, auth

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
METHODS = list(methods())
NEVER = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
ACCOUNT = "acct_fuzz"
REQUEST_IDS = ("fuzz-1", "fuzz-2", "fuzz-3")  # reused: replays and REQUEST_ID_REUSED


async def _seed(uow_factory: SqlUnitOfWorkFactory) -> Pools:
    """A customer with a card, a payment to capture, a paid one with a refund, a price,
    a subscription and an open invoice; their ids become the near-valid values."""
    customer = builders.customer(ACCOUNT)
    method = builders.payment_method(customer)
    capturable = builders.payment(customer)
    paid = builders.payment(
        customer, state=PaymentState.SUCCEEDED, amount_capturable=0, amount_received=1050
    )
    refund = builders.refund(paid)
    price = builders.price()
    subscription = builders.subscription(customer, price)
    invoice = builders.invoice(customer, subscription)
    dispute = builders.dispute(paid)
    setup = builders.setup_intent(customer)
    async with uow_factory() as uow:
        await uow.customers.add(customer)
        await uow.payment_methods.add(method)
        for payment in (capturable, paid):
            await uow.payments.add(payment)
        await uow.refunds.add(refund)
        await uow.prices.add(price)
        await uow.subscriptions.add(subscription)
        await uow.invoices.add(invoice)
        await uow.disputes.add(dispute)
        await uow.setup_intents.add(setup)
        await uow.commit()
    payments = (capturable.id, paid.id, new_id("pay"))
    by_prefix = {
        "PaymentService": payments,
        "RefundService": (refund.id, new_id("rfd")),
        "SubscriptionService": (subscription.id, new_id("subn")),
        "InvoiceService": (invoice.id, new_id("inv")),
        "DisputeService": (dispute.id, new_id("dsp")),
    }
    ids_by_method = {m.name: by_prefix[m.containing_service.name] for m in METHODS}
    for name in ("AttachPaymentMethod", "DetachPaymentMethod", "SetDefaultPaymentMethod"):
        ids_by_method[name] = (method.id, new_id("pmt"))
    ids_by_method["GetSetupIntent"] = (setup.id, new_id("setup"))
    return Pools(
        by_field={
            "request_id": REQUEST_IDS,
            "account_id": (ACCOUNT, "acct_other"),
            "payment_id": payments,
            "subscription_id": (subscription.id,),
            "price_id": (price.id, new_id("price")),
            "stripe_payment_method_id": (method.stripe_payment_method_id, "pm_card_visa"),
            "currency_code": ("usd", "eur", "USD", "xyz"),
            "receipt_email": ("buyer@example.com",),
            "description": ("order 42",),
            "page_token": ("", "eyJ0IjoiMjAyNSJ9"),
        },
        ids_by_method=ids_by_method,
    )


def _logged_pans(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = JsonFormatter()
    text = "\n".join(formatter.format(record) for record in caplog.records)
    return [pan for pan in PANS if pan in text]


async def test_any_request_to_any_rpc_is_answered_safely(
    edge: Stack,
    engine: AsyncEngine,
    uow_factory: SqlUnitOfWorkFactory,
    db_backend: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="payment_service")
    pools = await _seed(uow_factory)
    metadata = auth("svc-fuzz")
    loop = asyncio.get_running_loop()

    async def one_call(method: MethodDescriptor, request: Message | bytes) -> None:
        before = await row_counts(engine)
        answer = await call(edge.channel, method, request, metadata)
        CALLS[(db_backend, answer.code.name)] += 1
        where = f"{path(method)}: {answer.shown}"
        assert answer.code not in NEVER, where
        if answer.code is grpc.StatusCode.RESOURCE_EXHAUSTED:
            assert answer.reason == "RATE_LIMITED", where  # never oversized trailers
        assert answer.trailer_bytes < 4096, where
        for pan in sent_pans(request):
            assert pan not in repr(answer), where
        if answer.code is grpc.StatusCode.INVALID_ARGUMENT:
            assert await row_counts(engine) == before, where

    # Hypothesis drives the examples from a worker thread; each call runs on this loop,
    # where the server and its database connections live.
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same calls on every run: a failure here is never a fluke
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def any_call(data: st.DataObject) -> None:
        method: MethodDescriptor = data.draw(st.sampled_from(METHODS), label="method")
        request = data.draw(bodies(method, pools), label="request")
        asyncio.run_coroutine_threadsafe(one_call(method, request), loop).result(timeout=60)

    await asyncio.to_thread(any_call)
    assert not _logged_pans(caplog)
    assert sum(n for (backend, _), n in CALLS.items() if backend == db_backend) >= EXAMPLES
