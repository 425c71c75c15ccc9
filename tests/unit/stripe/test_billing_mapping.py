"""billing_mapping.py reads today's Stripe Billing shapes, from Stripe's own examples
(tests/fixtures/stripe/fixtures3.json through tests.support.stripe_fixtures), and compat.py
turns localstripe's older shapes into those.

What the examples hold of today's shapes, and what a test adds to a copy of one:

- price: ``recurring.interval/interval_count``, ``product`` as an id. Added: the
  product expanded (the ``product`` example), and ``recurring`` removed for a one-time price.
- subscription: items with a ``price`` object, ``quantity`` and item-level
  ``current_period_start/end``; ``pause_collection``; ``cancel_at_period_end``,
  ``cancel_at``, ``canceled_at``, ``trial_start/end``. Added: ``default_payment_method``
  and ``latest_invoice`` (both null in the example), as ids and expanded.
- invoice: ``parent.subscription_details.subscription``, amounts, ``period_*``, ``due_date``,
  ``billing_reason``, ``attempt_count``, lines with ``period`` and
  ``parent.*_details.proration``. Added: ``number``, ``hosted_invoice_url``, ``invoice_pdf``,
  ``status_transitions.paid_at`` (null in the example), a line's
  ``pricing.price_details.price`` (the example's ``pricing`` has only a type), and
  ``payments`` (not in the example, as Stripe includes it only when expanded), made of the
  ``invoice_payment`` example with its ``payment.payment_intent`` filled in (the example has
  the type only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from payment_service.adapters.stripe import billing_mapping, compat
from payment_service.adapters.stripe.billing_mapping import CURRENT_API, StripeBillingMapping
from payment_service.adapters.stripe.mapping import StripeShapeError
from payment_service.app.ports.billing import BillingMapping
from payment_service.domain.billing import PauseBehavior, RemotePause
from payment_service.domain.states import (
    InvoiceState,
    PaymentState,
    PriceInterval,
    SubscriptionState,
)
from tests.support.stripe_fixtures import stripe_fixture, stripe_fixtures

PRICE_ID = "price_1PgafmB7WZ01zgkW6dKueIc5"
PI_ID = "pi_1PgafyB7WZ01zgkWSjxsAJo3"


def invoice_payment(payment_intent: object, *, created: int, is_default: bool) -> dict[str, Any]:
    """The ``invoice_payment`` example, paid by ``payment_intent`` (an id or a PaymentIntent)."""
    payment = stripe_fixture("invoice_payment")
    payment["payment"]["payment_intent"] = payment_intent
    payment["created"] = created
    payment["is_default"] = is_default
    return payment


def invoice_with_payments(*payments: dict[str, Any]) -> dict[str, Any]:
    invoice = stripe_fixture("invoice")
    invoice["payments"] = {"object": "list", "data": list(payments), "has_more": False}
    return invoice


# --- prices and products ------------------------------------------------------------------------
def test_price_with_product_id() -> None:
    price = billing_mapping.to_price(stripe_fixtures()["price"])
    assert (price.stripe_id, price.product, price.product_name) == (
        PRICE_ID,
        "prod_QXg1hqf4jFNsqG",
        None,
    )
    assert (price.unit_amount, price.currency, price.interval, price.interval_count) == (
        2000,
        "usd",
        PriceInterval.MONTH,
        1,
    )
    assert (price.active, price.metadata, price.created) == (True, {}, 1234567890)


def test_price_with_expanded_product_has_its_name() -> None:
    obj = stripe_fixture("price")
    obj["product"] = stripe_fixture("product")  # expand[]=product
    price = billing_mapping.to_price(obj)
    assert (price.product, price.product_name) == ("prod_QXg1hqf4jFNsqG", "T-shirt")


def test_one_time_price_has_no_interval() -> None:
    obj = stripe_fixture("price")
    obj.update(type="one_time", recurring=None)
    price = billing_mapping.to_price(obj)
    assert (price.interval, price.interval_count) == (None, None)


def test_product() -> None:
    product = billing_mapping.to_product(stripe_fixtures()["product"])
    assert (product.stripe_id, product.name, product.active) == (
        "prod_QXg1hqf4jFNsqG",
        "T-shirt",
        True,
    )


# --- subscriptions ----------------------------------------------------------------------------------
def test_subscription_items_carry_the_billing_period() -> None:
    obj = stripe_fixtures()["subscription"]
    sub = billing_mapping.to_subscription(obj)
    assert (sub.stripe_id, sub.customer, sub.state) == (
        "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw",
        "cus_QXg1o8vcGmoR32",
        SubscriptionState.ACTIVE,
    )
    (item,) = sub.items
    example = obj["items"]["data"][0]
    assert (item.stripe_id, item.price, item.quantity) == ("si_QXhVnC2h0Jczwc", PRICE_ID, 1)
    assert (item.current_period_start, item.current_period_end) == (
        example["current_period_start"],
        example["current_period_end"],
    )
    assert (sub.current_period_start, sub.current_period_end) == (
        example["current_period_start"],
        example["current_period_end"],
    )
    assert sub.pause == RemotePause(PauseBehavior.MARK_UNCOLLECTIBLE, None)
    assert (sub.cancel_at_period_end, sub.cancel_at, sub.canceled_at) == (
        True,
        1234567890,
        1234567890,
    )
    assert (sub.trial_start, sub.trial_end) == (1234567890, 1234567890)
    assert (sub.default_payment_method, sub.latest_invoice_id, sub.latest_invoice) == (
        None,
        None,
        None,
    )


def test_subscription_item_price_as_id() -> None:
    obj = stripe_fixture("subscription")
    obj["items"]["data"][0]["price"] = PRICE_ID
    assert billing_mapping.to_subscription(obj).items[0].price == PRICE_ID


def test_subscription_item_alone() -> None:
    item = billing_mapping.to_subscription_item(stripe_fixtures()["subscription_item"])
    assert (item.stripe_id, item.price, item.quantity) == ("si_QXhVBoJ7NQdNXh", PRICE_ID, 1)


def test_subscription_payment_method_and_latest_invoice_as_ids() -> None:
    obj = stripe_fixture("subscription")
    obj.update(default_payment_method="pm_123", latest_invoice="in_123", pause_collection=None)
    obj["metadata"] = {"subscription_id": "ours-1"}
    sub = billing_mapping.to_subscription(obj)
    assert (sub.default_payment_method, sub.latest_invoice_id, sub.latest_invoice) == (
        "pm_123",
        "in_123",
        None,
    )
    assert sub.pause is None
    assert sub.subscription_id == "ours-1"


def test_subscription_with_expanded_payment_method_and_latest_invoice() -> None:
    obj = stripe_fixture("subscription")
    obj["default_payment_method"] = stripe_fixture("payment_method")
    obj["latest_invoice"] = invoice_with_payments(
        invoice_payment(PI_ID, created=1, is_default=True)
    )
    sub = billing_mapping.to_subscription(obj)
    assert sub.default_payment_method == stripe_fixtures()["payment_method"]["id"]
    assert sub.latest_invoice_id == "in_1Pgc6tB7WZ01zgkWu9fdqL6I"
    assert sub.latest_invoice is not None
    assert sub.latest_invoice.payment_intent_id == PI_ID


def test_unknown_subscription_status_or_pause_behavior_is_a_shape_error() -> None:
    with pytest.raises(StripeShapeError):
        billing_mapping.to_subscription({**stripe_fixtures()["subscription"], "status": "asleep"})
    with pytest.raises(StripeShapeError):
        billing_mapping.to_subscription(
            {**stripe_fixtures()["subscription"], "pause_collection": {"behavior": "nap"}}
        )


# --- invoices ----------------------------------------------------------------------------------------
def test_invoice_fields() -> None:
    invoice = billing_mapping.to_invoice(stripe_fixtures()["invoice"])
    assert (invoice.stripe_id, invoice.customer, invoice.state) == (
        "in_1Pgc6tB7WZ01zgkWu9fdqL6I",
        "cus_QXg1o8vcGmoR32",
        InvoiceState.DRAFT,
    )
    assert invoice.subscription == "subscription"  # parent.subscription_details.subscription
    assert (invoice.amount_due, invoice.amount_paid, invoice.amount_remaining) == (1000, 0, 1000)
    assert (invoice.subtotal, invoice.total, invoice.currency) == (1000, 1000, "usd")
    assert (invoice.period_start, invoice.period_end, invoice.due_date) == (1234567890,) * 3
    assert (invoice.billing_reason, invoice.attempt_count) == ("manual", 0)
    assert (invoice.number, invoice.hosted_invoice_url, invoice.invoice_pdf) == (None,) * 3
    assert (invoice.paid_at, invoice.payment_intent_id, invoice.payment_intent) == (None,) * 3


def test_invoice_links_number_and_paid_at() -> None:
    obj = stripe_fixture("invoice")
    obj.update(
        number="ABCD-0001",
        hosted_invoice_url="https://invoice.stripe.com/i/acct_1/test_1",
        invoice_pdf="https://pay.stripe.com/invoice/acct_1/test_1/pdf",
        status="paid",
    )
    obj["status_transitions"]["paid_at"] = 1700000000
    invoice = billing_mapping.to_invoice(obj)
    assert invoice.state is InvoiceState.PAID
    assert (invoice.number, invoice.paid_at) == ("ABCD-0001", 1700000000)
    assert invoice.hosted_invoice_url == "https://invoice.stripe.com/i/acct_1/test_1"
    assert invoice.invoice_pdf == "https://pay.stripe.com/invoice/acct_1/test_1/pdf"


def test_invoice_line_price_from_pricing_and_proration_from_parent() -> None:
    obj = stripe_fixture("invoice")
    obj["lines"]["data"][0]["pricing"]["price_details"] = {
        "price": PRICE_ID,
        "product": "prod_QXg1hqf4jFNsqG",
    }
    (line,) = billing_mapping.to_invoice(obj).lines
    assert (line.stripe_id, line.amount, line.currency, line.quantity) == (
        "il_1Pgc6sB7WZ01zgkWFnxLrLCq",
        1000,
        "usd",
        1,
    )
    assert line.description == "My First Invoice Item (created for API docs)"
    assert (line.period_start, line.period_end) == (1721954054, 1721954054)
    assert line.price == PRICE_ID
    assert line.proration  # parent.invoice_item_details (parent.type) says so


def test_line_item_alone_without_price_details() -> None:
    line = billing_mapping.to_invoice_line(stripe_fixtures()["line_item"])
    assert (line.stripe_id, line.price, line.proration) == (
        "il_tmp_1Pgc6sB7WZ01zgkWrG16hkdl",
        None,
        True,
    )


def test_line_proration_read_where_parent_type_points() -> None:
    obj = stripe_fixture("line_item")
    obj["parent"] = {
        "type": "subscription_item_details",
        "subscription_item_details": {
            **obj["parent"]["subscription_item_details"],
            "proration": False,
        },
    }
    assert not billing_mapping.to_invoice_line(obj).proration


def test_invoice_payment_intent_from_the_default_invoice_payment() -> None:
    obj = invoice_with_payments(
        invoice_payment("pi_old", created=100, is_default=False),
        invoice_payment("pi_default", created=50, is_default=True),
    )
    assert billing_mapping.to_invoice(obj).payment_intent_id == "pi_default"


def test_invoice_payment_intent_else_the_newest() -> None:
    obj = invoice_with_payments(
        invoice_payment("pi_old", created=100, is_default=False),
        invoice_payment("pi_new", created=200, is_default=False),
    )
    assert billing_mapping.to_invoice(obj).payment_intent_id == "pi_new"


def test_invoice_payment_intent_expanded() -> None:
    pi = stripe_fixture("payment_intent")
    obj = invoice_with_payments(invoice_payment(pi, created=1, is_default=True))
    invoice = billing_mapping.to_invoice(obj)
    assert invoice.payment_intent_id == PI_ID
    assert invoice.payment_intent is not None
    assert invoice.payment_intent.state is PaymentState.REQUIRES_PAYMENT_METHOD


def test_invoice_payments_without_a_payment_intent_are_skipped() -> None:
    other = stripe_fixture("invoice_payment")  # payment: {type: payment_intent}, no id
    assert billing_mapping.to_invoice(invoice_with_payments(other)).payment_intent_id is None


def test_invoice_preview() -> None:
    preview = billing_mapping.to_invoice_preview(stripe_fixtures()["invoice"])
    assert (preview.currency, preview.amount_due, preview.subtotal, preview.total) == (
        "usd",
        1000,
        1000,
        1000,
    )
    assert [line.stripe_id for line in preview.lines] == ["il_1Pgc6sB7WZ01zgkWFnxLrLCq"]
    assert (preview.period_start, preview.period_end) == (1234567890, 1234567890)


# --- the BillingMapping object ------------------------------------------------------------------------
def test_billing_mapping_objects_implement_the_port() -> None:
    current: BillingMapping = CURRENT_API
    localstripe: BillingMapping = StripeBillingMapping(compat.Localstripe().billing_object)
    for mapper in (current, localstripe):
        assert mapper.to_price(stripe_fixtures()["price"]).stripe_id == PRICE_ID
        assert mapper.to_product(stripe_fixtures()["product"]).name == "T-shirt"
        assert mapper.to_subscription(stripe_fixtures()["subscription"]).items[0].price == PRICE_ID
        assert mapper.to_invoice(stripe_fixtures()["invoice"]).subscription == "subscription"


# --- compat: localstripe's shapes -> today's ------------------------------------------------------------
# Shaped as localstripe 1.15 (localstripe/resources.py) exports them: Plans, billing periods
# on the subscription, `plan` on items and lines, `subscription` and `payment_intent` on the
# invoice, `proration` on the line.
LOCALSTRIPE_PLAN: dict[str, Any] = {
    "id": "plan_basic",
    "object": "plan",
    "amount": 990,
    "currency": "eur",
    "interval": "month",
    "interval_count": 1,
    "product": "prod_1",
    "active": True,
    "metadata": {},
    "created": 1700000000,
}


def localstripe_subscription() -> dict[str, Any]:
    return {
        "id": "sub_1",
        "object": "subscription",
        "customer": "cus_1",
        "status": "active",
        "current_period_start": 1700000000,
        "current_period_end": 1702592000,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "object": "subscription_item",
                    "plan": LOCALSTRIPE_PLAN,
                    "quantity": 2,
                }
            ],
        },
        "cancel_at_period_end": False,
        "latest_invoice": localstripe_invoice(),
        "metadata": {},
        "created": 1700000000,
    }


def localstripe_invoice() -> dict[str, Any]:
    return {
        "id": "in_1",
        "object": "invoice",
        "customer": "cus_1",
        "subscription": "sub_1",
        "parent": None,
        "payment_intent": "pi_1",
        "status": "open",
        "currency": "eur",
        "amount_due": 1980,
        "amount_paid": 0,
        "subtotal": 1980,
        "total": 1980,
        "status_transitions": {"finalized_at": 1700000000, "paid_at": None, "voided_at": None},
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": "il_1",
                    "object": "line_item",
                    "type": "subscription",
                    "subscription": "sub_1",
                    "subscription_item": "si_1",
                    "plan": LOCALSTRIPE_PLAN,
                    "proration": False,
                    "amount": 1980,
                    "currency": "eur",
                    "quantity": 2,
                    "period": {"start": 1700000000, "end": 1702592000},
                },
                {
                    "id": "il_2",
                    "object": "line_item",
                    "type": "invoiceitem",
                    "invoice_item": "ii_1",
                    "subscription": "sub_1",
                    "plan": "plan_basic",
                    "proration": True,
                    "amount": -500,
                    "currency": "eur",
                    "description": "Unused time",
                    "quantity": 1,
                    "period": {"start": 1700000000, "end": 1700000000},
                },
            ],
        },
        "metadata": {},
        "created": 1700000000,
    }


def test_compat_plan_becomes_a_price() -> None:
    current = compat.current_billing_object(LOCALSTRIPE_PLAN)
    assert current["recurring"] == {
        "interval": "month",
        "interval_count": 1,
        "usage_type": "licensed",
    }
    assert (current["unit_amount"], current["type"]) == (990, "recurring")
    price = billing_mapping.to_price(current)
    assert (price.unit_amount, price.interval, price.product) == (
        990,
        PriceInterval.MONTH,
        "prod_1",
    )


def test_compat_subscription_periods_and_plan_move_to_items() -> None:
    sub = billing_mapping.to_subscription(compat.current_billing_object(localstripe_subscription()))
    (item,) = sub.items
    assert (item.price, item.quantity) == ("plan_basic", 2)
    assert (item.current_period_start, item.current_period_end) == (1700000000, 1702592000)
    assert sub.latest_invoice is not None
    assert (sub.latest_invoice.subscription, sub.latest_invoice.payment_intent_id) == (
        "sub_1",
        "pi_1",
    )


def test_compat_invoice_subscription_payment_intent_and_lines() -> None:
    current = compat.current_billing_object(localstripe_invoice())
    assert current["parent"]["subscription_details"]["subscription"] == "sub_1"
    payment = current["payments"]["data"][0]
    assert (payment["is_default"], payment["payment"]) == (
        True,
        {"type": "payment_intent", "payment_intent": "pi_1"},
    )
    invoice = billing_mapping.to_invoice(current)
    assert (invoice.subscription, invoice.payment_intent_id, invoice.amount_remaining) == (
        "sub_1",
        "pi_1",
        1980,
    )
    first, second = invoice.lines
    assert (first.price, first.proration) == ("plan_basic", False)
    assert (second.price, second.proration) == ("plan_basic", True)
    assert current["lines"]["data"][1]["parent"]["invoice_item_details"] == {
        "proration": True,
        "subscription": "sub_1",
        "invoice_item": "ii_1",
    }


def test_compat_keeps_current_fields() -> None:
    """Where a current field is there already (today's API, or the patched localstripe),
    nothing is overwritten."""
    for name in ("subscription", "invoice", "price", "line_item", "subscription_item"):
        example = stripe_fixtures()[name]
        assert compat.current_billing_object(example) == dict(example), name
    # A localstripe invoice that already has a parent keeps it over `subscription`.
    mixed = {
        **localstripe_invoice(),
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": "x"}},
    }
    assert billing_mapping.to_invoice(compat.current_billing_object(mixed)).subscription == "x"


def test_compat_lists_and_other_objects() -> None:
    listed = compat.current_billing_object(
        {"object": "list", "data": [localstripe_invoice()], "has_more": False}
    )
    assert listed["data"][0]["payments"]["data"][0]["payment"]["payment_intent"] == "pi_1"
    customer: Mapping[str, Any] = stripe_fixtures()["customer"]
    assert compat.current_billing_object(customer) == dict(customer)
    # Today's API shape does nothing to objects.
    assert compat.CurrentApi().billing_object(localstripe_invoice()) == localstripe_invoice()
