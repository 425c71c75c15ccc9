"""The exact requests StripeBillingGateway sends, and that answers made of Stripe's own
examples (tests/fixtures/stripe/fixtures3.json) parse.

No real Stripe is reachable from the tests, so this is the one mock: stripe-python's
pluggable HTTP client (``stripe.HTTPClient``), replaced by ``RecordingHTTPClient``, which
records each request (method, path, query and form parameters, headers) and answers the
next prepared JSON body. Everything above it (StripeClient, its encoding of parameters,
its error classes, our gateway, compat and mapping) is the real code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe

from payment_service.adapters.stripe.billing_gateway import StripeBillingGateway
from payment_service.adapters.stripe.config import StripeGatewayConfig
from payment_service.adapters.stripe.connection import StripeConnection
from payment_service.app.ports.billing import BillingProcessor
from payment_service.domain.billing import (
    NewSubscription,
    PauseBehavior,
    ProrationBehavior,
    RemotePause,
    SubscriptionChange,
)
from payment_service.domain.processor import ProcessorCardDeclined
from payment_service.domain.states import InvoiceState, PaymentState
from tests.support.stripe_fixtures import stripe_fixture

SUB_ID = "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"
INVOICE_ID = "in_1Pgc6tB7WZ01zgkWu9fdqL6I"
PI_ID = "pi_1PgafyB7WZ01zgkWSjxsAJo3"
PRICE_ID = "price_1PgafmB7WZ01zgkW6dKueIc5"
KEY = "idem-key-1"


@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]


class RecordingHTTPClient(stripe.HTTPClient):
    """Records every request and answers the prepared (status, body) pairs in order."""

    name = "recording"

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Sent] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []

    def answer(self, body: dict[str, Any], status: int = 200) -> None:
        self.answers.append((status, body))

    async def request_async(
        self, method: str, url: str, headers: Any, post_data: Any = None
    ) -> tuple[bytes, int, dict[str, str]]:
        parts = urlsplit(url)
        body = post_data.decode() if isinstance(post_data, bytes) else post_data or ""
        form = dict(parse_qsl(body, keep_blank_values=True))
        self.sent.append(
            Sent(
                method.upper(),
                parts.path,
                dict(parse_qsl(parts.query, keep_blank_values=True)),
                form,
                dict(headers),
            )
        )
        status, body = self.answers.pop(0)
        return json.dumps(body).encode(), status, {"request-id": "req_test"}

    async def close_async(self) -> None:
        return None


@pytest.fixture
def http() -> RecordingHTTPClient:
    return RecordingHTTPClient()


def build(http: RecordingHTTPClient, *, localstripe: bool = False) -> StripeBillingGateway:
    config = StripeGatewayConfig(
        api_key="sk_test_123", max_network_retries=0, localstripe_compat=localstripe
    )
    return StripeBillingGateway(StripeConnection(config, http_client=http))


@pytest.fixture
def gateway(http: RecordingHTTPClient) -> Iterator[StripeBillingGateway]:
    yield build(http)
    assert not http.answers, "prepared answers left unused"


# --- answers made of Stripe's examples ---------------------------------------------------------------
def invoice_paid_by(pi: str, **changes: Any) -> dict[str, Any]:
    """The invoice example with ``payments`` (expanded) holding one PaymentIntent."""
    payment = stripe_fixture("invoice_payment")
    payment["payment"]["payment_intent"] = pi
    invoice = stripe_fixture("invoice")
    invoice["payments"] = {"object": "list", "data": [payment], "has_more": False}
    invoice.update(changes)
    return invoice


def subscription_with(latest_invoice: object) -> dict[str, Any]:
    sub = stripe_fixture("subscription")
    sub["latest_invoice"] = latest_invoice
    return sub


def payment_intent(status: str, **changes: Any) -> dict[str, Any]:
    pi = stripe_fixture("payment_intent")
    pi.update(status=status, **changes)
    return pi


def listing(*items: dict[str, Any], has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "data": list(items), "has_more": has_more, "url": "/v1/x"}


def card_error(code: str, decline_code: str | None = None) -> dict[str, Any]:
    error = {"type": "card_error", "code": code, "message": "Your card was declined."}
    if decline_code:
        error["decline_code"] = decline_code
    return {"error": error}


def request_line(sent: Sent) -> tuple[str, str, str | None]:
    """Method, path and Idempotency-Key of a request."""
    return sent.method, sent.path, sent.headers.get("Idempotency-Key")


def test_the_gateway_implements_the_port(http: RecordingHTTPClient) -> None:
    processor: BillingProcessor = build(http)
    assert processor is not None


# --- prices ----------------------------------------------------------------------------------------------
async def test_list_prices_reads_every_page_with_products(
    gateway: StripeBillingGateway, http: RecordingHTTPClient
) -> None:
    first = stripe_fixture("price")
    first["product"] = stripe_fixture("product")
    second = {**stripe_fixture("price"), "id": "price_2", "active": False}
    http.answer(listing(first, has_more=True))
    http.answer(listing(second))
    prices = await gateway.list_prices()
    assert [(p.stripe_id, p.product_name, p.active) for p in prices] == [
        (PRICE_ID, "T-shirt", True),
        ("price_2", None, False),
    ]
    one, two = http.sent
    assert (one.method, one.path) == ("GET", "/v1/prices")
    assert one.query == {"type": "recurring", "expand[0]": "data.product", "limit": "100"}
    assert two.query == {**one.query, "starting_after": PRICE_ID}


async def test_retrieve_price_expands_the_product(
    gateway: StripeBillingGateway, http: RecordingHTTPClient
) -> None:
    http.answer({**stripe_fixture("price"), "product": stripe_fixture("product")})
    price = await gateway.retrieve_price(PRICE_ID)
    assert price.product_name == "T-shirt"
    (sent,) = http.sent
    assert (sent.method, sent.path, sent.query) == (
        "GET",
        f"/v1/prices/{PRICE_ID}",
        {"expand[0]": "product"},
    )


# --- subscriptions -----------------------------------------------------------------------------------------
async def test_create_subscription_default_incomplete_with_the_invoice_payment_intent(
    gateway: StripeBillingGateway, http: RecordingHTTPClient
) -> None:
    http.answer(subscription_with(invoice_paid_by(PI_ID)))
    action = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
    http.answer(payment_intent("requires_action", next_action=action))
    new = NewSubscription(
        subscription_id="sub-ours-1",
        customer="cus_QXg1o8vcGmoR32",
        price=PRICE_ID,
        quantity=3,
        trial_period_days=14,
        default_payment_method="pm_card_visa",
        metadata={"plan": "basic"},
    )
    sub = await gateway.create_subscription(new, idempotency_key=KEY)
    create, pi = http.sent
    assert request_line(create) == ("POST", "/v1/subscriptions", KEY)
    assert create.form == {
        "customer": "cus_QXg1o8vcGmoR32",
        "items[0][price]": PRICE_ID,
        "items[0][quantity]": "3",
        "payment_behavior": "default_incomplete",
        "payment_settings[save_default_payment_method]": "on_subscription",
        "trial_period_days": "14",
        "default_payment_method": "pm_card_visa",
        "metadata[plan]": "basic",
        "metadata[subscription_id]": "sub-ours-1",
        "expand[0]": "latest_invoice",
        "expand[1]": "latest_invoice.payments",
    }
    assert (pi.method, pi.path, pi.query) == (
        "GET",
        f"/v1/payment_intents/{PI_ID}",
        {"expand[0]": "latest_charge"},
    )
    assert sub.latest_invoice is not None
    latest_pi = sub.latest_invoice.payment_intent
    assert latest_pi is not None
    assert latest_pi.state is PaymentState.REQUIRES_ACTION
    assert latest_pi.next_action_type == "use_stripe_sdk"
    assert latest_pi.client_secret == stripe_fixture("payment_intent")["client_secret"]


async def test_create_subscription_with_trial_end(
    gateway: StripeBillingGateway, http: RecordingHTTPClient
) -> None:
    http.answer(subscription_with("in_123"))  # latest invoice not expanded: no PI read
    new = NewSubscription("sub-ours-2", "cus_1", PRICE_ID, 1, trial_end=1900000000)
    sub = await gateway.create_subscription(new, idempotency_key=KEY)
    assert (sub.latest_invoice_id, sub.latest_invoice) == ("in_123", None)
    (sent,) = http.sent
    assert sent.form["trial_end"] == "1900000000"
    assert "trial_period_days" not in sent.form


async def test_update_subscription_prorates_one_item(
    gateway: StripeBillingGateway, http: RecordingHTTPClient
) -> None:
    http.answer(subscription_with(None))
    change = SubscriptionChange(
        item="si_QXhVnC2h0Jczwc",
        price="price_2",
        quantity=2,
        proration_behavior=ProrationBehavior.ALWAYS_INVOICE,
        proration_date=1800000000,
    )
    await gateway.update_subscription(SUB_ID, change, idempotency_key=KEY)
    (sent,) = http.sent
    assert request_line(sent) == ("POST", f"/v1/subscriptions/{SUB_ID}", KEY)
    assert sent.form == {
        "items[0][id]": "si_QXhVnC2h0Jczwc",
        "items[0][price]": "price_2",
        "items[0][quantity]": "2",
        "proration_behavior": "always_invoice",
        "proration_date": "1800000000",
        "expand[0]": "latest_invoice",
        "expand[1]": "latest_invoice.payments",
    }


async def test_preview_uses_create_preview(
    gateway: StripeBillingGateway, http: RecordingHTTPClient
) -> None:
    http.answer(stripe_fixture("invoice"))
    change = SubscriptionChange(
        "si_1", "price_2", None, ProrationBehavior.CREATE_PRORATIONS, proration_date=1800000000
    )
    preview = await gateway.preview_subscription_change(SUB_ID, "cus_1", change)
    assert (preview.amount_due, preview.total, len(preview.lines)) == (1000, 1000, 1)
    assert preview.lines[0].proration
    (sent,) = http.sent
    assert (sent.method, sent.path) == ("POST", "/v1/invoices/create_preview")
    assert sent.form == {
        "customer": "cus_1",
        "subscription": SUB_ID,
        "subscription_details[items][0][id]": "si_1",
        "subscription_details[items][0][price]": "price_2",
        "subscription_details[proration_behavior]": "create_prorations",
        "subscription_details[proration_date]": "1800000000",
    }


async def test_cancel_is_a_delete(gateway: StripeBillingGateway, http: RecordingHTTPClient) -> None:
    http.answer({**subscription_with(None), "status": "canceled"})
    sub = await gateway.cancel_subscription(SUB_ID, idempotency_key=KEY)
    assert sub.state.value == "canceled"
    (sent,) = http.sent
    assert request_line(sent) == ("DELETE", f"/v1/subscriptions/{SUB_ID}", KEY)


async def test_cancel_at_period_end(
    gateway: StripeBillingGateway, http: RecordingHTTPClient
) -> None:
    http.answer(subscription_with(None))
    await gateway.set_cancel_at_period_end(SUB_ID, True, idempotency_key=KEY)
    (sent,) = http.sent
    assert sent.form["cancel_at_period_end"] == "true"
    assert sent.headers["Idempotency-Key"] == KEY


async def test_pause_collection_set_and_cleared(
    gateway: StripeBillingGateway, http: RecordingHTTPClient
) -> None:
    http.answer(subscription_with(None))
    http.answer({**subscription_with(None), "pause_collection": None})
    pause = RemotePause(PauseBehavior.VOID, resumes_at=1800000000)
    paused = await gateway.set_pause_collection(SUB_ID, pause, idempotency_key="k1")
    resumed = await gateway.set_pause_collection(SUB_ID, None, idempotency_key="k2")
    assert paused.pause is not None
    assert resumed.pause is None
    set_, cleared = http.sent
    assert (set_.form["pause_collection[behavior]"], set_.form["pause_collection[resumes_at]"]) == (
        "void",
        "1800000000",
    )
    assert cleared.form["pause_collection"] == ""
    assert (set_.headers["Idempotency-Key"], cleared.headers["Idempotency-Key"]) == ("k1", "k2")


async def test_resume(gateway: StripeBillingGateway, http: RecordingHTTPClient) -> None:
    http.answer(subscription_with(None))
    await gateway.resume_subscription(SUB_ID, idempotency_key=KEY)
    (sent,) = http.sent
    assert request_line(sent) == ("POST", f"/v1/subscriptions/{SUB_ID}/resume", KEY)


async def test_list_subscriptions_all_statuses(
    gateway: StripeBillingGateway, http: RecordingHTTPClient
) -> None:
    http.answer(listing(subscription_with(None)))
    subs = await gateway.list_subscriptions("cus_1")
    assert [s.stripe_id for s in subs] == [SUB_ID]
    (sent,) = http.sent
    assert (sent.path, sent.query) == (
        "/v1/subscriptions",
        {"customer": "cus_1", "status": "all", "limit": "100"},
    )


# --- invoices ----------------------------------------------------------------------------------------------
async def test_retrieve_invoice_with_its_payment_intent(
    gateway: StripeBillingGateway, http: RecordingHTTPClient
) -> None:
    http.answer(invoice_paid_by(PI_ID))
    http.answer(payment_intent("requires_payment_method"))
    invoice = await gateway.retrieve_invoice(INVOICE_ID)
    assert invoice.payment_intent is not None
    assert invoice.payment_intent.stripe_id == PI_ID
    inv, pi = http.sent
    assert (inv.method, inv.path, inv.query) == (
        "GET",
        f"/v1/invoices/{INVOICE_ID}",
        {"expand[0]": "payments"},
    )
    assert pi.path == f"/v1/payment_intents/{PI_ID}"


async def test_list_invoices_by_subscription_every_page(
    gateway: StripeBillingGateway, http: RecordingHTTPClient
) -> None:
    http.answer(listing(invoice_paid_by(PI_ID), has_more=True))
    http.answer(listing({**stripe_fixture("invoice"), "id": "in_2"}))
    invoices = await gateway.list_invoices(subscription=SUB_ID)
    assert [(i.stripe_id, i.payment_intent_id) for i in invoices] == [
        (INVOICE_ID, PI_ID),
        ("in_2", None),
    ]
    one, two = http.sent
    assert one.query == {"subscription": SUB_ID, "expand[0]": "data.payments", "limit": "100"}
    assert two.query == {**one.query, "starting_after": INVOICE_ID}


async def test_pay_invoice(gateway: StripeBillingGateway, http: RecordingHTTPClient) -> None:
    paid = invoice_paid_by(PI_ID, status="paid", amount_paid=1000, amount_remaining=0)
    http.answer(paid)
    http.answer(payment_intent("succeeded"))
    invoice = await gateway.pay_invoice(INVOICE_ID, payment_method="pm_1", idempotency_key=KEY)
    assert invoice.state is InvoiceState.PAID
    pay, _pi = http.sent
    assert request_line(pay) == ("POST", f"/v1/invoices/{INVOICE_ID}/pay", KEY)
    assert pay.form == {"payment_method": "pm_1", "expand[0]": "payments"}


async def test_pay_invoice_declined_raises_with_the_payment_intent(
    gateway: StripeBillingGateway, http: RecordingHTTPClient
) -> None:
    http.answer(card_error("card_declined", "insufficient_funds"), status=402)
    http.answer(invoice_paid_by(PI_ID, status="open"))
    http.answer(
        payment_intent(
            "requires_payment_method",
            last_payment_error={"code": "card_declined", "decline_code": "insufficient_funds"},
        )
    )
    with pytest.raises(ProcessorCardDeclined) as caught:
        await gateway.pay_invoice(INVOICE_ID, payment_method=None, idempotency_key=KEY)
    assert caught.value.decline_code == "insufficient_funds"
    assert caught.value.payment_intent is not None
    assert caught.value.payment_intent.stripe_id == PI_ID
    pay, inv, pi = http.sent
    assert pay.form == {"expand[0]": "payments"}
    assert (inv.path, pi.path) == (f"/v1/invoices/{INVOICE_ID}", f"/v1/payment_intents/{PI_ID}")


async def test_pay_invoice_needing_authentication_answers_the_open_invoice(
    gateway: StripeBillingGateway, http: RecordingHTTPClient
) -> None:
    http.answer(card_error("invoice_payment_intent_requires_action"), status=402)
    http.answer(invoice_paid_by(PI_ID, status="open"))
    http.answer(payment_intent("requires_action", next_action={"type": "use_stripe_sdk"}))
    invoice = await gateway.pay_invoice(INVOICE_ID, payment_method="pm_3ds", idempotency_key=KEY)
    assert invoice.state is InvoiceState.OPEN
    assert invoice.payment_intent is not None
    assert invoice.payment_intent.state is PaymentState.REQUIRES_ACTION


async def test_void_invoice(gateway: StripeBillingGateway, http: RecordingHTTPClient) -> None:
    http.answer({**stripe_fixture("invoice"), "status": "void"})
    invoice = await gateway.void_invoice(INVOICE_ID, idempotency_key=KEY)
    assert invoice.state is InvoiceState.VOID
    (sent,) = http.sent
    assert request_line(sent) == ("POST", f"/v1/invoices/{INVOICE_ID}/void", KEY)


# --- localstripe ---------------------------------------------------------------------------------------------
async def test_localstripe_shapes_are_made_current_and_payments_not_expanded(
    http: RecordingHTTPClient,
) -> None:
    gateway = build(http, localstripe=True)
    invoice = stripe_fixture("invoice")
    del invoice["parent"]
    invoice.update(subscription=SUB_ID, payment_intent=PI_ID)  # localstripe's shape
    http.answer(invoice)
    http.answer(payment_intent("requires_payment_method"))
    remote = await gateway.retrieve_invoice(INVOICE_ID)
    assert (remote.subscription, remote.payment_intent_id) == (SUB_ID, PI_ID)
    inv, _pi = http.sent
    assert inv.query == {}  # localstripe has no `payments` to expand
    assert gateway.mapping.to_invoice(invoice).subscription == SUB_ID
