"""payment_method.* and customer.* events: stored from Stripe, never brought back from detached."""

from __future__ import annotations

from typing import Any

from payment_service.domain.processor import RemoteCustomer, RemotePaymentMethod
from payment_service.domain.states import PaymentMethodState, WebhookEventState
from tests.integration.webhooks.conftest import Endpoint, Pipeline
from tests.integration.webhooks.support import (
    event,
    resource,
    signed,
    store_customer,
    stored_events,
)


def _pm(stripe_id: str, customer: str | None, **card: Any) -> dict[str, Any]:
    pm = resource("payment_method")
    pm["id"] = stripe_id
    pm["customer"] = customer
    pm["card"].update(card)
    return pm


async def _method(pipeline: Pipeline, stripe_id: str) -> Any:
    async with pipeline.uow_factory(read_only=True) as uow:
        return await uow.payment_methods.find_by_stripe_id(stripe_id)


async def _customer(pipeline: Pipeline, customer_id: str) -> Any:
    async with pipeline.uow_factory(read_only=True) as uow:
        return await uow.customers.get(customer_id)


async def _post(endpoint: Endpoint, evt: dict[str, Any]) -> str:
    """Delivered, and applied by the applier after the answer."""
    return await endpoint.deliver(*signed(evt))


async def test_attached_to_our_customer_is_stored_from_the_payload(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    customer = await store_customer(pipeline.uow_factory)
    evt = event(
        "payment_method.attached", _pm("pm_att_1", customer.stripe_customer_id, last4="1881")
    )
    assert await _post(endpoint, evt) == "applied"
    method = await _method(pipeline, "pm_att_1")
    assert (method.customer_id, method.account_id) == (customer.id, customer.account_id)
    assert (method.state, method.brand, method.last4, method.exp_year) == (
        PaymentMethodState.ATTACHED,
        "visa",
        "1881",
        2030,
    )
    assert (
        await _post(endpoint, event("payment_method.attached", evt["data"]["object"])) == "ignored"
    )


async def test_attached_to_a_foreign_customer_is_ignored(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    assert (
        await _post(endpoint, event("payment_method.attached", _pm("pm_att_2", "cus_not_ours")))
        == "ignored"
    )
    assert await _method(pipeline, "pm_att_2") is None


async def test_detached_detaches_and_clears_the_default(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    customer = await store_customer(pipeline.uow_factory)
    await _post(
        endpoint, event("payment_method.attached", _pm("pm_det_1", customer.stripe_customer_id))
    )
    method = await _method(pipeline, "pm_det_1")
    async with pipeline.uow_factory() as uow:
        stored = await uow.customers.get(customer.id)
        stored.default_payment_method_id = method.id
        await uow.customers.update(stored)
        await uow.commit()
    detached = event(
        "payment_method.detached",
        _pm("pm_det_1", None),
        previous_attributes={"customer": customer.stripe_customer_id},
    )
    assert await _post(endpoint, detached) == "applied"
    assert (await _method(pipeline, "pm_det_1")).state is PaymentMethodState.DETACHED
    assert (await _customer(pipeline, customer.id)).default_payment_method_id is None


async def test_late_attached_after_detached_stays_detached(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    customer = await store_customer(pipeline.uow_factory)
    detached = event(
        "payment_method.detached",
        _pm("pm_late_1", None),
        previous_attributes={"customer": customer.stripe_customer_id},
    )
    attached = event(
        "payment_method.attached",
        _pm("pm_late_1", customer.stripe_customer_id),
        created=detached["created"] - 2,
    )
    assert await _post(endpoint, detached) == "applied"
    assert await _post(endpoint, attached) == "ignored"
    assert (await _method(pipeline, "pm_late_1")).state is PaymentMethodState.DETACHED


async def test_updated_takes_what_stripe_says_now(endpoint: Endpoint, pipeline: Pipeline) -> None:
    customer = await store_customer(pipeline.uow_factory)
    await _post(
        endpoint, event("payment_method.attached", _pm("pm_upd_1", customer.stripe_customer_id))
    )
    pipeline.processor.payment_methods["pm_upd_1"] = RemotePaymentMethod(
        stripe_id="pm_upd_1",
        type="card",
        customer=customer.stripe_customer_id,
        brand="visa",
        last4="4242",
        exp_month=1,
        exp_year=2040,
        fingerprint="AOB934RVNwzk6xtn",
        billing_name="Ada",
    )
    stale_payload = _pm("pm_upd_1", customer.stripe_customer_id, exp_year=2031)
    assert await _post(endpoint, event("payment_method.updated", stale_payload)) == "applied"
    method = await _method(pipeline, "pm_upd_1")
    assert (method.exp_month, method.exp_year, method.billing_name) == (1, 2040, "Ada")


async def test_customer_updated_and_deleted(endpoint: Endpoint, pipeline: Pipeline) -> None:
    customer = await store_customer(pipeline.uow_factory)
    stripe_id = customer.stripe_customer_id
    await _post(endpoint, event("payment_method.attached", _pm("pm_cu_1", stripe_id)))
    pipeline.processor.customers[stripe_id] = RemoteCustomer(
        stripe_id=stripe_id,
        email="new@example.com",
        name="New Name",
        default_payment_method="pm_cu_1",
    )
    payload = resource("customer")
    payload["id"] = stripe_id
    assert await _post(endpoint, event("customer.updated", payload)) == "applied"
    stored = await _customer(pipeline, customer.id)
    method = await _method(pipeline, "pm_cu_1")
    assert (stored.email, stored.name, stored.default_payment_method_id) == (
        "new@example.com",
        "New Name",
        method.id,
    )
    assert await _post(endpoint, event("customer.deleted", payload)) == "applied"
    stored = await _customer(pipeline, customer.id)
    assert (stored.stripe_customer_id, stored.default_payment_method_id) == (None, None)
    assert (await _method(pipeline, "pm_cu_1")).state is PaymentMethodState.DETACHED
    # A late update for the deleted customer changes nothing.
    assert await _post(endpoint, event("customer.updated", payload)) == "ignored"
    states = [e.state for e in await stored_events(pipeline.uow_factory)]
    assert WebhookEventState.FAILED not in states
