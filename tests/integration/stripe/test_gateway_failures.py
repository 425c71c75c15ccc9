"""Stripe unreachable, stalled or misconfigured; deadlines; the events list."""

from __future__ import annotations

import time
import uuid

import pytest

from payment_service.adapters.stripe import StripeGateway, StripeGatewayConfig
from payment_service.adapters.stripe.errors import (
    REASON_DEADLINE_TOO_SHORT,
    REASON_MISCONFIGURED,
    REASON_TIMEOUT,
    REASON_UNREACHABLE,
)
from payment_service.app.common.request_context import deadline_scope
from payment_service.app.ports.processor import EventListing, NewCustomer, idempotency_key
from payment_service.domain.errors import Unavailable
from tests.integration.stripe.intents import card_payment
from tests.support.localstripe import LocalStripe
from tests.support.outage_proxy import OutageProxy


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


async def test_unreachable_is_unavailable_and_the_retry_makes_exactly_one_payment_intent(
    proxied_gateway: StripeGateway, outage_proxy: OutageProxy, localstripe: LocalStripe
) -> None:
    customer = await proxied_gateway.create_customer(
        NewCustomer(account_id="acct_1"), idempotency_key=idempotency_key(new_id("cus"), "create")
    )
    pm = await localstripe.create_card_payment_method()
    pay = new_id("pay")

    outage_proxy.down()
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        await proxied_gateway.create_payment_intent(
            card_payment(pay, 1000, "usd", customer.stripe_id, pm),
            idempotency_key=idempotency_key(pay, "create"),
        )
    assert caught.value.reason == REASON_UNREACHABLE
    assert time.monotonic() - started < 1.0
    assert await localstripe.count_payment_intents(metadata={"payment_id": pay}) == 0

    outage_proxy.up()
    pi = await proxied_gateway.create_payment_intent(
        card_payment(pay, 1000, "usd", customer.stripe_id, pm),
        idempotency_key=idempotency_key(pay, "create"),
    )
    assert pi.payment_id == pay
    assert await localstripe.count_payment_intents(metadata={"payment_id": pay}) == 1


async def test_open_keep_alive_connections_are_cut_when_the_proxy_goes_down(
    proxied_gateway: StripeGateway, outage_proxy: OutageProxy
) -> None:
    customer = await proxied_gateway.create_customer(
        NewCustomer(account_id="acct_1"), idempotency_key=idempotency_key(new_id("cus"), "create")
    )
    outage_proxy.down()
    with pytest.raises(Unavailable):
        await proxied_gateway.retrieve_customer(customer.stripe_id)
    outage_proxy.up()
    assert (
        await proxied_gateway.retrieve_customer(customer.stripe_id)
    ).stripe_id == customer.stripe_id


async def test_stalled_stripe_is_cut_at_the_remaining_deadline(
    proxied_gateway: StripeGateway, outage_proxy: OutageProxy
) -> None:
    outage_proxy.stall()
    started = time.monotonic()
    with deadline_scope(0.2), pytest.raises(Unavailable) as caught:
        await proxied_gateway.retrieve_customer("cus_whatever")
    elapsed = time.monotonic() - started
    assert caught.value.reason == REASON_TIMEOUT
    # Cut at the deadline: it is the work's (the interceptor kept the answer's margin back),
    # bounded above only loosely, against a slow machine.
    assert 0.2 - 0.02 <= elapsed < 1.0


async def test_stalled_stripe_without_deadline_is_cut_at_the_configured_timeout(
    localstripe: LocalStripe, outage_proxy: OutageProxy
) -> None:
    gateway = StripeGateway(
        StripeGatewayConfig(
            api_key=localstripe.api_key, api_base=outage_proxy.base_url, timeout_s=0.3
        )
    )
    outage_proxy.stall()
    started = time.monotonic()
    try:
        with pytest.raises(Unavailable) as caught:
            await gateway.retrieve_customer("cus_whatever")
    finally:
        await gateway.close()
    assert caught.value.reason == REASON_TIMEOUT
    assert time.monotonic() - started < 1.5


async def test_no_time_left_fails_fast_without_calling_stripe(
    proxied_gateway: StripeGateway, outage_proxy: OutageProxy
) -> None:
    before = outage_proxy.accepted
    with deadline_scope(0.0), pytest.raises(Unavailable) as caught:
        await proxied_gateway.retrieve_customer("cus_whatever")
    assert caught.value.reason == REASON_DEADLINE_TOO_SHORT
    assert outage_proxy.accepted == before


async def test_rejected_api_key_is_unavailable_misconfigured(localstripe: LocalStripe) -> None:
    gateway = StripeGateway(
        StripeGatewayConfig(api_key="not-a-secret-key", api_base=localstripe.base_url)
    )
    try:
        with pytest.raises(Unavailable) as caught:
            await gateway.retrieve_customer("cus_x")
    finally:
        await gateway.close()
    assert caught.value.reason == REASON_MISCONFIGURED
    assert "not-a-secret-key" not in caught.value.message


async def test_list_events_newest_first_with_stripe_cursors(
    gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    first = await gateway.list_events(EventListing(limit=1))
    cursor = first.events[0].stripe_id if first.events else None
    created = [
        await gateway.create_customer(
            NewCustomer(account_id="acct_ev"),
            idempotency_key=idempotency_key(new_id("cus"), "create"),
        )
        for _ in range(3)
    ]
    ids = [c.stripe_id for c in created]

    newest = await gateway.list_events(EventListing(limit=3))
    assert [e.type for e in newest.events] == ["customer.created"] * 3
    assert [e.object_id for e in newest.events] == ids[::-1]
    assert newest.events[0].api_version
    assert newest.events[0].data_object["metadata"] == {"account_id": "acct_ev"}

    older = await gateway.list_events(
        EventListing(starting_after=newest.events[0].stripe_id, limit=1)
    )
    assert older.events[0].object_id == ids[1]

    if cursor is not None:  # catch up from the last event seen, oldest page first
        page = await gateway.list_events(EventListing(ending_before=cursor, limit=2))
        assert [e.object_id for e in page.events] == [ids[1], ids[0]]
        assert page.has_more
        rest = await gateway.list_events(
            EventListing(ending_before=page.events[0].stripe_id, limit=2)
        )
        assert [e.object_id for e in rest.events] == [ids[2]]
        assert not rest.has_more

    assert (
        await gateway.list_events(EventListing(created_after=newest.events[0].created + 1))
    ).events == ()
