"""Cached reads, Redis and Stripe outages, account isolation, payment methods."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from payments.v1 import common_pb2
from payments.v1 import payment_service_pb2 as pb
from sqlalchemy import update

from payment_service.adapters.db.tables import transactions
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from tests.support.db import record_backend_used
from tests.support.localstripe import LocalStripe
from tests.support.outage_proxy import OutageProxy
from tests.support.redis_server import RedisServer
from tests.support.stack import Stack, auth, error_details, stack_settings, start_stack

VISA = "4242424242424242"


def rid() -> str:
    return f"req-{uuid.uuid4()}"


def acct() -> str:
    return f"acct_{uuid.uuid4().hex[:12]}"


async def _set_description_behind_the_service(
    engine_url_factory: SqlUnitOfWorkFactory, payment_id: str
) -> None:
    """Change a row without the service knowing, to tell a cache hit from a database read."""
    async with engine_url_factory() as uow:
        await uow.connection.execute(
            update(transactions)
            .where(transactions.c.id == payment_id)
            .values(description="changed in the database")
        )
        await uow.commit()


async def test_get_is_served_from_cache_and_writes_invalidate_it(
    stack: Stack, uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> None:
    pm = await localstripe.create_card_payment_method(VISA)
    created = (
        await stack.payments.CreatePayment(
            pb.CreatePaymentRequest(
                request_id=rid(),
                account_id=acct(),
                amount=900,
                currency_code="usd",
                stripe_payment_method_id=pm,
                confirm=True,
                capture_method=common_pb2.CAPTURE_METHOD_MANUAL,
                description="original",
            ),
            metadata=auth(),
        )
    ).payment
    first = (
        await stack.payments.GetPayment(pb.GetPaymentRequest(id=created.id), metadata=auth())
    ).payment
    await _set_description_behind_the_service(uow_factory, created.id)
    cached = (
        await stack.payments.GetPayment(pb.GetPaymentRequest(id=created.id), metadata=auth())
    ).payment
    assert cached.description == first.description == "original"

    captured = (
        await stack.payments.CapturePayment(
            pb.CapturePaymentRequest(request_id=rid(), id=created.id), metadata=auth()
        )
    ).payment
    assert (
        captured.description == "changed in the database"
    )  # the write read the row, not the cache
    after = (
        await stack.payments.GetPayment(pb.GetPaymentRequest(id=created.id), metadata=auth())
    ).payment
    assert after.state == pb.PAYMENT_STATE_SUCCEEDED
    assert after.description == "changed in the database"


@pytest_asyncio.fixture(loop_scope="session")
async def redis_stack(
    database_url: str,
    uow_factory: SqlUnitOfWorkFactory,
    localstripe: LocalStripe,
    outage_proxy: OutageProxy,
) -> AsyncIterator[tuple[Stack, RedisServer]]:
    redis = RedisServer()
    record_backend_used("redis")
    running = await start_stack(
        stack_settings(database_url, outage_proxy.base_url, redis_url=redis.url)
    )
    try:
        yield running, redis
    finally:
        await running.stop()
        redis.stop()


async def test_redis_cache_and_redis_stopped_mid_test(
    redis_stack: tuple[Stack, RedisServer],
    uow_factory: SqlUnitOfWorkFactory,
    localstripe: LocalStripe,
) -> None:
    stack, redis = redis_stack
    pm = await localstripe.create_card_payment_method(VISA)
    created = (
        await stack.payments.CreatePayment(
            pb.CreatePaymentRequest(
                request_id=rid(),
                account_id=acct(),
                amount=1500,
                currency_code="usd",
                stripe_payment_method_id=pm,
                confirm=True,
                capture_method=common_pb2.CAPTURE_METHOD_MANUAL,
                description="original",
            ),
            metadata=auth(),
        )
    ).payment
    await stack.payments.GetPayment(pb.GetPaymentRequest(id=created.id), metadata=auth())
    await _set_description_behind_the_service(uow_factory, created.id)
    cached = (
        await stack.payments.GetPayment(pb.GetPaymentRequest(id=created.id), metadata=auth())
    ).payment
    assert cached.description == "original"  # served by Redis

    redis.stop()
    during = (
        await stack.payments.GetPayment(pb.GetPaymentRequest(id=created.id), metadata=auth())
    ).payment
    assert during.description == "changed in the database"  # Redis down: read from the database
    captured = (
        await stack.payments.CapturePayment(
            pb.CapturePaymentRequest(request_id=rid(), id=created.id), metadata=auth()
        )
    ).payment
    assert captured.state == pb.PAYMENT_STATE_SUCCEEDED
    again = (
        await stack.payments.GetPayment(pb.GetPaymentRequest(id=created.id), metadata=auth())
    ).payment
    assert again.state == pb.PAYMENT_STATE_SUCCEEDED


async def test_stripe_unreachable_keeps_pending_then_completes_once(
    stack: Stack, localstripe: LocalStripe, outage_proxy: OutageProxy
) -> None:
    pm = await localstripe.create_card_payment_method(VISA)
    account = acct()
    request = pb.CreatePaymentRequest(
        request_id=rid(),
        account_id=account,
        amount=4200,
        currency_code="usd",
        stripe_payment_method_id=pm,
        confirm=True,
    )
    # The customer exists first, so the outage hits the PaymentIntent call itself.
    await stack.payments.AttachPaymentMethod(
        pb.AttachPaymentMethodRequest(
            request_id=rid(), account_id=account, stripe_payment_method_id=pm
        ),
        metadata=auth(),
    )
    outage_proxy.down()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.payments.CreatePayment(request, metadata=auth(), timeout=20)
    details = error_details(raised.value)
    assert details.code == grpc.StatusCode.UNAVAILABLE
    assert details.retry_delay_s is not None

    listed = await stack.payments.ListPayments(
        pb.ListPaymentsRequest(account_id=account), metadata=auth()
    )
    assert [p.state for p in listed.payments] == [pb.PAYMENT_STATE_PENDING]
    pending = listed.payments[0]
    assert pending.stripe_payment_intent_id == ""

    outage_proxy.up()
    done = (await stack.payments.CreatePayment(request, metadata=auth(), timeout=20)).payment
    assert done.id == pending.id
    assert done.state == pb.PAYMENT_STATE_SUCCEEDED
    assert await localstripe.count_payment_intents(metadata={"payment_id": done.id}) == 1


async def test_account_restricted_token_sees_only_its_account(
    stack: Stack, localstripe: LocalStripe
) -> None:
    mine, theirs = acct(), acct()
    pm = await localstripe.create_card_payment_method(VISA)
    their_method = (
        await stack.payments.AttachPaymentMethod(
            pb.AttachPaymentMethodRequest(
                request_id=rid(), account_id=theirs, stripe_payment_method_id=pm
            ),
            metadata=auth(),
        )
    ).payment_method
    their_payment = (
        await stack.payments.CreatePayment(
            pb.CreatePaymentRequest(
                request_id=rid(),
                account_id=theirs,
                amount=300,
                currency_code="usd",
                confirm=True,
                capture_method=common_pb2.CAPTURE_METHOD_MANUAL,
            ),
            metadata=auth(),
        )
    ).payment
    assert (
        their_payment.state == pb.PAYMENT_STATE_REQUIRES_CAPTURE
    )  # the default payment method was used
    restricted = auth("svc-shop", account_id=mine)
    attempts = [
        stack.payments.GetPayment(pb.GetPaymentRequest(id=their_payment.id), metadata=restricted),
        stack.payments.ListPayments(pb.ListPaymentsRequest(account_id=theirs), metadata=restricted),
        stack.payments.CapturePayment(
            pb.CapturePaymentRequest(request_id=rid(), id=their_payment.id), metadata=restricted
        ),
        stack.payments.CancelPayment(
            pb.CancelPaymentRequest(request_id=rid(), id=their_payment.id), metadata=restricted
        ),
        stack.payments.ConfirmPayment(
            pb.ConfirmPaymentRequest(request_id=rid(), id=their_payment.id), metadata=restricted
        ),
        stack.payments.CreatePayment(
            pb.CreatePaymentRequest(
                request_id=rid(), account_id=theirs, amount=100, currency_code="usd"
            ),
            metadata=restricted,
        ),
        stack.payments.GetCustomer(pb.GetCustomerRequest(account_id=theirs), metadata=restricted),
        stack.payments.ListPaymentMethods(
            pb.ListPaymentMethodsRequest(account_id=theirs), metadata=restricted
        ),
        stack.payments.DetachPaymentMethod(
            pb.DetachPaymentMethodRequest(request_id=rid(), id=their_method.id), metadata=restricted
        ),
        stack.payments.SetDefaultPaymentMethod(
            pb.SetDefaultPaymentMethodRequest(
                request_id=rid(), account_id=mine, id=their_method.id
            ),
            metadata=restricted,
        ),
        stack.payments.AttachPaymentMethod(
            pb.AttachPaymentMethodRequest(
                request_id=rid(),
                account_id=theirs,
                stripe_payment_method_id=await localstripe.create_card_payment_method(VISA),
            ),
            metadata=restricted,
        ),
    ]
    for attempt in attempts:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await attempt
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    still = (
        await stack.payments.GetPayment(pb.GetPaymentRequest(id=their_payment.id), metadata=auth())
    ).payment
    assert still.state == pb.PAYMENT_STATE_REQUIRES_CAPTURE
    own = await stack.payments.ListPayments(
        pb.ListPaymentsRequest(account_id=mine), metadata=restricted
    )
    assert list(own.payments) == []


async def test_payment_methods_attach_list_default_detach(
    stack: Stack, localstripe: LocalStripe
) -> None:
    account = acct()
    first_pm = await localstripe.create_card_payment_method(VISA)
    second_pm = await localstripe.create_card_payment_method("4000002760003184")
    first = (
        await stack.payments.AttachPaymentMethod(
            pb.AttachPaymentMethodRequest(
                request_id=rid(), account_id=account, stripe_payment_method_id=first_pm
            ),
            metadata=auth(),
        )
    ).payment_method
    assert first.is_default  # the first one becomes the default
    assert first.card.last4 == "4242"
    assert first.card.exp_month == 12
    assert first.card.exp_year > 2030
    assert first.state == pb.PAYMENT_METHOD_STATE_ATTACHED
    attach_second = pb.AttachPaymentMethodRequest(
        request_id=rid(), account_id=account, stripe_payment_method_id=second_pm, set_default=True
    )
    second = (
        await stack.payments.AttachPaymentMethod(attach_second, metadata=auth())
    ).payment_method
    assert second.is_default
    replay = (
        await stack.payments.AttachPaymentMethod(attach_second, metadata=auth())
    ).payment_method
    assert replay.id == second.id

    listed = (
        await stack.payments.ListPaymentMethods(
            pb.ListPaymentMethodsRequest(account_id=account), metadata=auth()
        )
    ).payment_methods
    assert [(m.id, m.is_default) for m in listed] == [(second.id, True), (first.id, False)]

    customer = (
        await stack.payments.SetDefaultPaymentMethod(
            pb.SetDefaultPaymentMethodRequest(request_id=rid(), account_id=account, id=first.id),
            metadata=auth(),
        )
    ).customer
    assert customer.default_payment_method_id == first.id

    detached = (
        await stack.payments.DetachPaymentMethod(
            pb.DetachPaymentMethodRequest(request_id=rid(), id=first.id), metadata=auth()
        )
    ).payment_method
    assert detached.state == pb.PAYMENT_METHOD_STATE_DETACHED
    customer_after = (
        await stack.payments.GetCustomer(pb.GetCustomerRequest(account_id=account), metadata=auth())
    ).customer
    assert customer_after.default_payment_method_id == ""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.payments.DetachPaymentMethod(
            pb.DetachPaymentMethodRequest(request_id=rid(), id=first.id), metadata=auth()
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    attached_only = (
        await stack.payments.ListPaymentMethods(
            pb.ListPaymentMethodsRequest(account_id=account), metadata=auth()
        )
    ).payment_methods
    assert [m.id for m in attached_only] == [second.id]
    everything = (
        await stack.payments.ListPaymentMethods(
            pb.ListPaymentMethodsRequest(account_id=account, include_detached=True), metadata=auth()
        )
    ).payment_methods
    assert {m.id for m in everything} == {first.id, second.id}

    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stack.payments.AttachPaymentMethod(
            pb.AttachPaymentMethodRequest(
                request_id=rid(), account_id=account, stripe_payment_method_id="pm_doesnotexist"
            ),
            metadata=auth(),
        )
    assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "stripe_payment_method_id" in error_details(missing.value).field_violations


async def test_a_stalled_stripe_call_ends_inside_the_callers_deadline(
    stack: Stack, localstripe: LocalStripe, outage_proxy: OutageProxy
) -> None:
    """The Stripe call is cut short of the RPC deadline, so the caller gets UNAVAILABLE
    (retryable, with RetryInfo) rather than DEADLINE_EXCEEDED, and the row stays PENDING."""
    account = acct()
    pm = await localstripe.create_card_payment_method(VISA)
    await stack.payments.AttachPaymentMethod(
        pb.AttachPaymentMethodRequest(
            request_id=rid(), account_id=account, stripe_payment_method_id=pm
        ),
        metadata=auth(),
    )
    request = pb.CreatePaymentRequest(
        request_id=rid(), account_id=account, amount=990, currency_code="usd", confirm=True
    )
    outage_proxy.stall()
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.payments.CreatePayment(request, metadata=auth(), timeout=1.0)
    elapsed = time.monotonic() - started
    details = error_details(raised.value)
    assert details.code == grpc.StatusCode.UNAVAILABLE
    assert details.retry_delay_s is not None
    assert elapsed < 1.0
    outage_proxy.up()
    done = (await stack.payments.CreatePayment(request, metadata=auth(), timeout=20)).payment
    assert done.state == pb.PAYMENT_STATE_SUCCEEDED
    assert await localstripe.count_payment_intents(metadata={"payment_id": done.id}) == 1
