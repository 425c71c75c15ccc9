"""tools/localstripe_billing.py over HTTP: prices, subscriptions, invoices, previews, the
per-subscription test clock, and the webhooks localstripe really delivers for them."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import stripe
from aiohttp import web

from tests.support.localstripe import LocalStripe, LocalStripeError

SECRET = "whsec_billing_patch"
GOOD = "4242424242424242"
DECLINE = "4000000000000341"  # attaches, every charge declined
DECLINE_ON_ATTACH = "4000000000000002"  # refused on attach; declined when charged unattached
THREE_D_SECURE = "4000002760003184"
DAY = 86400


class Hooks:
    """Events localstripe delivered to a local receiver, signature checked."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def receive(self, request: web.Request) -> web.Response:
        payload = await request.text()
        stripe.WebhookSignature.verify_header(
            payload, request.headers["Stripe-Signature"], SECRET, tolerance=None
        )
        self.events.append(await request.json())
        return web.Response()

    async def wait_for(
        self, kind: str, object_id: str, within_s: float = 8.0, where: Callable[..., bool] = bool
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            for event in self.events:
                if event["type"] == kind and self._about(event, object_id) and where(event):
                    return event
            await asyncio.sleep(0.05)
        seen = [(e["type"], e["data"]["object"].get("id")) for e in self.events]
        raise AssertionError(f"no {kind} for {object_id} within {within_s}s; got {seen}")

    def types_for(self, object_id: str) -> list[str]:
        return [e["type"] for e in self.events if self._about(e, object_id)]

    @staticmethod
    def _about(event: dict[str, Any], object_id: str) -> bool:
        obj = event["data"]["object"]
        return object_id in (obj.get("id"), obj.get("subscription"))


@pytest_asyncio.fixture
async def hooks(localstripe: LocalStripe) -> AsyncIterator[Hooks]:
    receiver = Hooks()
    app = web.Application()
    app.router.add_post("/hook", receiver.receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    webhook_id = f"billing-patch-{secrets.token_hex(4)}"
    url = f"http://127.0.0.1:{port}/hook"
    await localstripe.register_webhook(webhook_id, url, SECRET)
    try:
        yield receiver
    finally:
        await localstripe.register_webhook(webhook_id, url, SECRET, events=["test.never"])
        await runner.cleanup()


# --- helpers --------------------------------------------------------------------------------
async def _price(ls: LocalStripe, amount: int = 1500, interval: str = "month") -> dict[str, Any]:
    return dict(
        await ls.request(
            "POST",
            "/v1/prices",
            {
                "currency": "usd",
                "unit_amount": str(amount),
                "recurring[interval]": interval,
                "product_data[name]": f"Plan {secrets.token_hex(3)}",
            },
        )
    )


async def _customer(ls: LocalStripe, card: str | None = GOOD) -> tuple[str, str | None]:
    customer = await ls.request("POST", "/v1/customers", {"email": "billing@example.com"})
    if card is None:
        return customer["id"], None
    pm = await ls.create_card_payment_method(card)
    await ls.request("POST", f"/v1/payment_methods/{pm}/attach", {"customer": customer["id"]})
    await ls.request(
        "POST",
        f"/v1/customers/{customer['id']}",
        {"invoice_settings[default_payment_method]": pm},
    )
    return customer["id"], pm


async def _subscribe(ls: LocalStripe, customer: str, price: str, **params: str) -> dict[str, Any]:
    data = {
        "customer": customer,
        "items[0][price]": price,
        "expand[]": "latest_invoice.payment_intent",
        **params,
    }
    return dict(await ls.request("POST", "/v1/subscriptions", data))


async def _invoice(ls: LocalStripe, invoice_id: str) -> dict[str, Any]:
    return dict(
        await ls.request("GET", f"/v1/invoices/{invoice_id}", {"expand[]": "payment_intent"})
    )


async def _advance(ls: LocalStripe, sub_id: str) -> dict[str, Any]:
    return dict(await ls.request("POST", f"/_test/subscriptions/{sub_id}/advance"))


async def _error(call: Any) -> str:
    with pytest.raises(LocalStripeError) as caught:
        await call
    return str(caught.value)


# --- prices ---------------------------------------------------------------------------------
async def test_price_is_created_listed_expanded_and_updated(
    localstripe: LocalStripe, hooks: Hooks
) -> None:
    product = await localstripe.request("POST", "/v1/products", {"name": "Pro"})
    price = await localstripe.request(
        "POST",
        "/v1/prices",
        {
            "currency": "usd",
            "unit_amount": "1500",
            "recurring[interval]": "month",
            "recurring[interval_count]": "1",
            "product": product["id"],
            "nickname": "Pro monthly",
            "metadata[tier]": "pro",
            "lookup_key": f"pro_{secrets.token_hex(3)}",
        },
    )
    assert price["id"].startswith("price_")
    expected = {"object": "price", "product": product["id"], "unit_amount": 1500}
    assert {k: price[k] for k in expected} == expected
    assert (price["currency"], price["type"], price["active"], price["livemode"]) == (
        "usd",
        "recurring",
        True,
        False,
    )
    assert price["recurring"]["interval"] == "month"
    assert price["recurring"]["interval_count"] == 1
    assert price["metadata"] == {"tier": "pro"}
    assert isinstance(price["created"], int)
    # The Plan underneath has the same id (subscriptions use it).
    plan = await localstripe.retrieve("plans", price["id"])
    assert plan["amount"] == 1500

    got = await localstripe.request("GET", f"/v1/prices/{price['id']}", {"expand[]": "product"})
    assert got["product"]["name"] == "Pro"
    page = await localstripe.request(
        "GET",
        "/v1/prices",
        {"product": product["id"], "active": "true", "limit": "5", "expand[]": "data.product"},
    )
    assert [p["id"] for p in page["data"]] == [price["id"]]
    assert page["data"][0]["product"]["id"] == product["id"]

    updated = await localstripe.request(
        "POST", f"/v1/prices/{price['id']}", {"active": "false", "nickname": "Old"}
    )
    assert (updated["active"], updated["nickname"]) == (False, "Old")
    inactive = await localstripe.request(
        "GET", "/v1/prices", {"product": product["id"], "active": "false"}
    )
    assert [p["id"] for p in inactive["data"]] == [price["id"]]

    await hooks.wait_for("price.created", price["id"])
    event = await hooks.wait_for("price.updated", price["id"])
    assert event["data"]["previous_attributes"] == {"active": True, "nickname": "Pro monthly"}


async def test_product_update_is_an_event(localstripe: LocalStripe, hooks: Hooks) -> None:
    product = await localstripe.request("POST", "/v1/products", {"name": "Pro"})
    await localstripe.request("POST", f"/v1/products/{product['id']}", {"name": "Pro 2"})
    event = await hooks.wait_for("product.updated", product["id"])
    assert event["data"]["previous_attributes"] == {"name": "Pro"}


async def test_price_list_pages_and_stripe_python_reads_prices(localstripe: LocalStripe) -> None:
    first = await _price(localstripe)
    second = await localstripe.request(
        "POST",
        "/v1/prices",
        {
            "currency": "usd",
            "unit_amount": "15000",
            "recurring[interval]": "year",
            "product": first["product"],
        },
    )
    page = await localstripe.request(
        "GET", "/v1/prices", {"product": first["product"], "limit": "1"}
    )
    assert ([p["id"] for p in page["data"]], page["has_more"]) == ([first["id"]], True)
    rest = await localstripe.request(
        "GET", "/v1/prices", {"product": first["product"], "starting_after": first["id"]}
    )
    assert [p["id"] for p in rest["data"]] == [second["id"]]

    client = stripe.StripeClient(
        localstripe.api_key,
        base_addresses={"api": localstripe.base_url},
        http_client=stripe.AIOHTTPClient(),
    )
    price = await client.v1.prices.retrieve_async(second["id"], {"expand": ["product"]})
    assert isinstance(price, stripe.Price)
    assert price.recurring is not None
    assert (price.unit_amount, price.recurring.interval) == (15000, "year")
    assert isinstance(price.product, stripe.Product)
    made = await client.v1.prices.create_async(
        {
            "currency": "usd",
            "unit_amount": 700,
            "recurring": {"interval": "week"},
            "product_data": {"name": "Weekly"},
        }
    )
    assert made.id.startswith("price_")


async def test_price_refuses_what_it_does_not_fake(localstripe: LocalStripe) -> None:
    message = await _error(
        localstripe.request(
            "POST",
            "/v1/prices",
            {"currency": "usd", "unit_amount": "100", "product_data[name]": "x"},
        )
    )
    assert "400" in message
    assert "recurring" in message


# --- subscriptions: creation ---------------------------------------------------------------
async def test_good_card_subscription_is_active_and_its_invoice_paid(
    localstripe: LocalStripe, hooks: Hooks
) -> None:
    price = await _price(localstripe)
    customer, _ = await _customer(localstripe, GOOD)
    sub = await _subscribe(localstripe, customer, price["id"], **{"metadata[order]": "o1"})
    assert sub["status"] == "active"
    assert sub["metadata"] == {"order": "o1"}
    item = sub["items"]["data"][0]
    assert item["price"]["id"] == price["id"]
    assert item["plan"]["id"] == price["id"]
    assert item["current_period_end"] == sub["current_period_end"] > sub["current_period_start"]
    invoice = sub["latest_invoice"]
    assert invoice["status"] == "paid"
    assert invoice["billing_reason"] == "subscription_create"
    assert invoice["payment_intent"]["status"] == "succeeded"
    assert invoice["amount_paid"] == 1500
    assert invoice["lines"]["data"][0]["price"]["id"] == price["id"]
    assert invoice["lines"]["data"][0]["proration"] is False
    transitions = invoice["status_transitions"]
    assert transitions["finalized_at"]
    assert transitions["paid_at"]
    assert transitions["voided_at"] is None
    assert transitions["marked_uncollectible_at"] is None
    assert (
        invoice["payments"]["data"][0]["payment"]["payment_intent"]
        == invoice["payment_intent"]["id"]
    )

    created = await hooks.wait_for("customer.subscription.created", sub["id"])
    assert created["data"]["object"]["status"] == "active"
    for kind in (
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
    ):
        await hooks.wait_for(kind, invoice["id"])


async def test_invoice_urls_serve_a_page_and_a_pdf(localstripe: LocalStripe) -> None:
    customer, _ = await _customer(localstripe, GOOD)
    sub = await _subscribe(localstripe, customer, (await _price(localstripe))["id"])
    invoice = sub["latest_invoice"]
    assert invoice["hosted_invoice_url"].startswith(localstripe.base_url + "/_test/invoices/")
    async with aiohttp.ClientSession() as session:  # no API key: these are public pages
        async with session.get(invoice["hosted_invoice_url"]) as page:
            assert page.status == 200
            assert page.content_type == "text/html"
            assert invoice["id"] in await page.text()
        async with session.get(invoice["invoice_pdf"]) as pdf:
            assert pdf.status == 200
            assert pdf.content_type == "application/pdf"
            body = await pdf.read()
            assert body.startswith(b"%PDF-")
            assert body.rstrip().endswith(b"%%EOF")
        async with session.get(f"{localstripe.base_url}/_test/invoices/in_nope/pdf") as missing:
            assert missing.status == 404


async def test_three_d_secure_card_leaves_the_subscription_incomplete(
    localstripe: LocalStripe, hooks: Hooks
) -> None:
    customer, _ = await _customer(localstripe, THREE_D_SECURE)
    sub = await _subscribe(localstripe, customer, (await _price(localstripe))["id"])
    assert sub["status"] == "incomplete"
    invoice = sub["latest_invoice"]
    pi = invoice["payment_intent"]
    assert (invoice["status"], pi["status"]) == ("open", "requires_action")
    assert pi["client_secret"].startswith(pi["id"] + "_secret_")
    assert invoice["confirmation_secret"]["client_secret"] == pi["client_secret"]
    await hooks.wait_for("invoice.payment_action_required", invoice["id"])

    await localstripe.authenticate(pi["id"])
    after = await localstripe.retrieve("subscriptions", sub["id"])
    assert after["status"] == "active"
    assert (await _invoice(localstripe, invoice["id"]))["status"] == "paid"
    event = await hooks.wait_for("customer.subscription.updated", sub["id"])
    assert event["data"]["previous_attributes"]["status"] == "incomplete"
    assert event["data"]["object"]["status"] == "active"


async def test_failed_authentication_keeps_the_subscription_incomplete(
    localstripe: LocalStripe,
) -> None:
    customer, _ = await _customer(localstripe, THREE_D_SECURE)
    sub = await _subscribe(localstripe, customer, (await _price(localstripe))["id"])
    await localstripe.authenticate(sub["latest_invoice"]["payment_intent"]["id"], success=False)
    assert (await localstripe.retrieve("subscriptions", sub["id"]))["status"] == "incomplete"


@pytest.mark.parametrize("card", [DECLINE, DECLINE_ON_ATTACH])
async def test_declined_first_payment_leaves_the_subscription_incomplete(
    localstripe: LocalStripe, hooks: Hooks, card: str
) -> None:
    customer, _ = await _customer(localstripe, None)
    pm = await localstripe.create_card_payment_method(card)
    if card == DECLINE:
        await localstripe.request(
            "POST", f"/v1/payment_methods/{pm}/attach", {"customer": customer}
        )
    sub = await _subscribe(
        localstripe, customer, (await _price(localstripe))["id"], default_payment_method=pm
    )
    assert sub["default_payment_method"] == pm
    assert sub["status"] == "incomplete"
    pi = sub["latest_invoice"]["payment_intent"]
    assert pi["status"] == "requires_payment_method"
    assert pi["last_payment_error"]["code"] == "card_declined"
    assert pi["last_payment_error"]["decline_code"] == "generic_decline"
    await hooks.wait_for("invoice.payment_failed", sub["latest_invoice"]["id"])

    # The customer pays the same invoice with another card: same PaymentIntent, now paid.
    good = await localstripe.create_card_payment_method(GOOD)
    await localstripe.request("POST", f"/v1/payment_methods/{good}/attach", {"customer": customer})
    paid = await localstripe.request(
        "POST", f"/v1/invoices/{sub['latest_invoice']['id']}/pay", {"payment_method": good}
    )
    assert (paid["status"], paid["payment_intent"]) == ("paid", pi["id"])
    assert (await localstripe.retrieve("subscriptions", sub["id"]))["status"] == "active"


async def test_default_incomplete_waits_for_the_client_to_confirm(
    localstripe: LocalStripe,
) -> None:
    price = (await _price(localstripe))["id"]
    for card, after_confirm in ((GOOD, "active"), (THREE_D_SECURE, "incomplete")):
        customer, _ = await _customer(localstripe, card)
        sub = await _subscribe(localstripe, customer, price, payment_behavior="default_incomplete")
        pi = sub["latest_invoice"]["payment_intent"]
        assert (sub["status"], sub["latest_invoice"]["status"]) == ("incomplete", "open")
        assert pi["status"] == "requires_confirmation"
        confirmed = await localstripe.request("POST", f"/v1/payment_intents/{pi['id']}/confirm")
        assert confirmed["status"] == ("succeeded" if card == GOOD else "requires_action")
        assert (await localstripe.retrieve("subscriptions", sub["id"]))["status"] == after_confirm
    customer, _ = await _customer(localstripe, DECLINE)
    sub = await _subscribe(localstripe, customer, price, payment_behavior="default_incomplete")
    pi_id = sub["latest_invoice"]["payment_intent"]["id"]
    assert "402" in await _error(
        localstripe.request("POST", f"/v1/payment_intents/{pi_id}/confirm")
    )
    pi = await localstripe.retrieve("payment_intents", pi_id)
    assert pi["status"] == "requires_payment_method"


async def test_trial_subscription_trials_with_a_paid_zero_invoice(
    localstripe: LocalStripe, hooks: Hooks
) -> None:
    customer, _ = await _customer(localstripe, GOOD)
    before = int(time.time())
    sub = await _subscribe(
        localstripe, customer, (await _price(localstripe))["id"], trial_period_days="14"
    )
    assert sub["status"] == "trialing"
    assert before <= sub["trial_start"] <= int(time.time())
    assert sub["trial_end"] == sub["current_period_end"]
    assert abs(sub["trial_end"] - (sub["trial_start"] + 14 * DAY)) <= 1
    invoice = sub["latest_invoice"]
    assert (invoice["status"], invoice["amount_due"], invoice["payment_intent"]) == (
        "paid",
        0,
        None,
    )
    assert invoice["lines"]["data"][0]["description"].startswith("Trial period for ")
    assert await localstripe.count_payment_intents(metadata=None) >= 0
    created = await hooks.wait_for("customer.subscription.created", sub["id"])
    assert created["data"]["object"]["status"] == "trialing"

    trial_end = int(time.time()) + 5 * DAY
    other = await _subscribe(
        localstripe, customer, (await _price(localstripe))["id"], trial_end=str(trial_end)
    )
    assert (other["status"], other["trial_end"]) == ("trialing", trial_end)


# --- subscriptions: changes -----------------------------------------------------------------
async def test_updates_emit_updated_with_previous_attributes(
    localstripe: LocalStripe, hooks: Hooks
) -> None:
    customer, _ = await _customer(localstripe, GOOD)
    sub = await _subscribe(localstripe, customer, (await _price(localstripe))["id"])
    resumes_at = sub["current_period_end"] + 40 * DAY
    paused = await localstripe.request(
        "POST",
        f"/v1/subscriptions/{sub['id']}",
        {
            "pause_collection[behavior]": "void",
            "pause_collection[resumes_at]": str(resumes_at),
            "metadata[k]": "v",
        },
    )
    assert paused["pause_collection"] == {"behavior": "void", "resumes_at": resumes_at}
    event = await hooks.wait_for("customer.subscription.updated", sub["id"])
    assert event["data"]["previous_attributes"] == {"pause_collection": None, "metadata": {}}

    cleared = await localstripe.request(
        "POST", f"/v1/subscriptions/{sub['id']}", {"pause_collection": ""}
    )
    assert cleared["pause_collection"] is None
    ending = await localstripe.request(
        "POST", f"/v1/subscriptions/{sub['id']}", {"cancel_at_period_end": "true"}
    )
    assert ending["cancel_at_period_end"] is True
    assert ending["cancel_at"] == ending["current_period_end"]
    event = await hooks.wait_for(
        "customer.subscription.updated",
        sub["id"],
        where=lambda e: "cancel_at_period_end" in e["data"]["previous_attributes"],
    )
    assert event["data"]["previous_attributes"]["cancel_at_period_end"] is False

    canceled = await localstripe.request("DELETE", f"/v1/subscriptions/{sub['id']}")
    assert canceled["status"] == "canceled"
    assert canceled["canceled_at"] is not None
    await hooks.wait_for("customer.subscription.deleted", sub["id"])
    await asyncio.sleep(1.2)
    updates = [t for t in hooks.types_for(sub["id"]) if t == "customer.subscription.updated"]
    assert len(updates) == 3  # pause, clear, cancel_at_period_end; not the deletion


async def test_bad_pause_collection_is_refused(localstripe: LocalStripe) -> None:
    customer, _ = await _customer(localstripe, GOOD)
    sub = await _subscribe(localstripe, customer, (await _price(localstripe))["id"])
    message = await _error(
        localstripe.request(
            "POST", f"/v1/subscriptions/{sub['id']}", {"pause_collection[behavior]": "sleep"}
        )
    )
    assert "400" in message


async def _prorated_setup(ls: LocalStripe) -> tuple[dict[str, Any], dict[str, Any], int]:
    monthly = await _price(ls, 3000, "month")
    bigger = await ls.request(
        "POST",
        "/v1/prices",
        {
            "currency": "usd",
            "unit_amount": "6000",
            "recurring[interval]": "month",
            "product": monthly["product"],
        },
    )
    customer, _ = await _customer(ls, GOOD)
    sub = await _subscribe(ls, customer, monthly["id"])
    start, end = sub["current_period_start"], sub["current_period_end"]
    return sub, bigger, start + (end - start) // 3


def _change(sub: dict[str, Any], price: str, when: int, behavior: str) -> dict[str, str]:
    return {
        "items[0][id]": sub["items"]["data"][0]["id"],
        "items[0][price]": price,
        "proration_date": str(when),
        "proration_behavior": behavior,
    }


def _preview_params(sub: dict[str, Any], price: str, when: int, behavior: str) -> dict[str, str]:
    return {
        "customer": sub["customer"],
        "subscription": sub["id"],
        "subscription_details[items][0][id]": sub["items"]["data"][0]["id"],
        "subscription_details[items][0][price]": price,
        "subscription_details[proration_date]": str(when),
        "subscription_details[proration_behavior]": behavior,
    }


def _proration_amounts(invoice: dict[str, Any]) -> list[int]:
    return sorted(line["amount"] for line in invoice["lines"]["data"] if line["proration"])


async def test_always_invoice_charges_the_previewed_prorations_now(
    localstripe: LocalStripe, hooks: Hooks
) -> None:
    sub, bigger, when = await _prorated_setup(localstripe)
    preview = await localstripe.request(
        "POST",
        "/v1/invoices/create_preview",
        _preview_params(sub, bigger["id"], when, "always_invoice"),
    )
    assert preview["id"].startswith("upcoming_in_")
    expected = _proration_amounts(preview)
    start, end = sub["current_period_start"], sub["current_period_end"]
    left = (end - when) / (end - start)
    assert expected == [round(-3000 * left), round(6000 * left)]
    assert preview["amount_due"] == sum(expected)
    assert all(line["period"]["start"] == when for line in preview["lines"]["data"])

    changed = await localstripe.request(
        "POST", f"/v1/subscriptions/{sub['id']}", _change(sub, bigger["id"], when, "always_invoice")
    )
    item = changed["items"]["data"][0]
    assert (item["id"], item["price"]["id"]) == (sub["items"]["data"][0]["id"], bigger["id"])
    invoice = await _invoice(localstripe, changed["latest_invoice"])
    assert invoice["id"] != sub["latest_invoice"]["id"]
    assert (invoice["status"], invoice["billing_reason"]) == ("paid", "subscription_update")
    assert _proration_amounts(invoice) == expected
    event = await hooks.wait_for("customer.subscription.updated", sub["id"])
    assert "items" in event["data"]["previous_attributes"]
    assert (
        event["data"]["previous_attributes"]["items"]["data"][0]["price"]["id"]
        == sub["items"]["data"][0]["price"]["id"]
    )


async def test_create_prorations_land_on_the_renewal_invoice(localstripe: LocalStripe) -> None:
    sub, bigger, when = await _prorated_setup(localstripe)
    preview = await localstripe.request(
        "POST",
        "/v1/invoices/create_preview",
        _preview_params(sub, bigger["id"], when, "create_prorations"),
    )
    expected = _proration_amounts(preview)
    assert len(expected) == 2
    assert preview["amount_due"] == sum(expected) + 6000
    changed = await localstripe.request(
        "POST",
        f"/v1/subscriptions/{sub['id']}",
        _change(sub, bigger["id"], when, "create_prorations"),
    )
    assert changed["latest_invoice"] == sub["latest_invoice"]["id"]  # nothing invoiced yet
    renewed = await _advance(localstripe, sub["id"])
    invoice = await _invoice(localstripe, renewed["latest_invoice"])
    assert _proration_amounts(invoice) == expected
    assert invoice["amount_due"] == preview["amount_due"]
    assert invoice["status"] == "paid"
    assert renewed["current_period_start"] == sub["current_period_end"]


async def test_proration_behavior_none_changes_the_price_only(localstripe: LocalStripe) -> None:
    sub, bigger, when = await _prorated_setup(localstripe)
    preview = await localstripe.request(
        "POST", "/v1/invoices/create_preview", _preview_params(sub, bigger["id"], when, "none")
    )
    assert _proration_amounts(preview) == []
    assert preview["amount_due"] == 6000
    await localstripe.request(
        "POST", f"/v1/subscriptions/{sub['id']}", _change(sub, bigger["id"], when, "none")
    )
    renewed = await _advance(localstripe, sub["id"])
    assert (await _invoice(localstripe, renewed["latest_invoice"]))["amount_due"] == 6000


# --- invoices -------------------------------------------------------------------------------
async def _draft_invoice(ls: LocalStripe) -> dict[str, Any]:
    """localstripe invoices only a customer with a subscription: POST /v1/invoices is a draft
    of the subscription's items plus the pending invoice items."""
    customer, _ = await _customer(ls, GOOD)
    await _subscribe(ls, customer, (await _price(ls))["id"])
    await ls.request(
        "POST", "/v1/invoiceitems", {"customer": customer, "amount": "2500", "currency": "usd"}
    )
    return dict(await ls.request("POST", "/v1/invoices", {"customer": customer}))


async def test_finalize_void_and_mark_uncollectible(localstripe: LocalStripe, hooks: Hooks) -> None:
    draft = await _draft_invoice(localstripe)
    assert (draft["status"], draft["hosted_invoice_url"]) == ("draft", None)
    assert "400" in await _error(localstripe.request("POST", f"/v1/invoices/{draft['id']}/void"))
    opened = await localstripe.request("POST", f"/v1/invoices/{draft['id']}/finalize")
    assert opened["status"] == "open"
    assert opened["status_transitions"]["finalized_at"] is not None
    assert opened["hosted_invoice_url"] is not None
    message = await _error(localstripe.request("POST", f"/v1/invoices/{draft['id']}/finalize"))
    assert "invoice_not_editable" in message
    bad = await localstripe.request("POST", f"/v1/invoices/{draft['id']}/mark_uncollectible")
    assert bad["status"] == "uncollectible"
    assert bad["status_transitions"]["marked_uncollectible_at"] is not None
    voided = await localstripe.request("POST", f"/v1/invoices/{draft['id']}/void")
    assert voided["status"] == "void"
    assert voided["status_transitions"]["voided_at"] is not None
    for kind in ("invoice.finalized", "invoice.marked_uncollectible", "invoice.voided"):
        await hooks.wait_for(kind, draft["id"])

    paid = await _draft_invoice(localstripe)
    done = await localstripe.request("POST", f"/v1/invoices/{paid['id']}/pay")
    assert done["status"] == "paid"
    assert done["status_transitions"]["finalized_at"] is not None
    assert "400" in await _error(localstripe.request("POST", f"/v1/invoices/{paid['id']}/void"))
    message = await _error(
        localstripe.request("POST", f"/v1/invoices/{paid['id']}/mark_uncollectible")
    )
    assert "400" in message


async def test_pay_with_a_declining_card_is_a_402(localstripe: LocalStripe, hooks: Hooks) -> None:
    draft = await _draft_invoice(localstripe)
    assert draft["amount_due"] == 1500 + 2500
    bad = await localstripe.create_card_payment_method(DECLINE)
    await localstripe.request(
        "POST", f"/v1/payment_methods/{bad}/attach", {"customer": draft["customer"]}
    )
    message = await _error(
        localstripe.request("POST", f"/v1/invoices/{draft['id']}/pay", {"payment_method": bad})
    )
    assert "402" in message
    assert "card_declined" in message
    invoice = await _invoice(localstripe, draft["id"])
    assert invoice["status"] == "open"
    assert invoice["payment_intent"]["status"] == "requires_payment_method"
    assert invoice["payment_intent"]["last_payment_error"]["decline_code"] == "generic_decline"
    await hooks.wait_for("invoice.payment_failed", draft["id"])
    paid = await localstripe.request("POST", f"/v1/invoices/{draft['id']}/pay")  # default card
    assert (paid["status"], paid["amount_paid"]) == ("paid", 4000)


# --- the test clock -------------------------------------------------------------------------
async def test_renewal_paid_moves_the_period(localstripe: LocalStripe, hooks: Hooks) -> None:
    customer, _ = await _customer(localstripe, GOOD)
    sub = await _subscribe(localstripe, customer, (await _price(localstripe))["id"])
    renewed = await _advance(localstripe, sub["id"])
    assert renewed["status"] == "active"
    assert renewed["current_period_start"] == sub["current_period_end"]
    assert renewed["current_period_end"] > renewed["current_period_start"]
    invoice = await _invoice(localstripe, renewed["latest_invoice"])
    assert (invoice["status"], invoice["billing_reason"]) == ("paid", "subscription_cycle")
    assert invoice["lines"]["data"][0]["period"]["start"] == sub["current_period_end"]
    await hooks.wait_for("invoice.paid", invoice["id"])
    event = await hooks.wait_for("customer.subscription.updated", sub["id"])
    previous = event["data"]["previous_attributes"]
    assert previous["current_period_start"] == sub["current_period_start"]
    assert previous["latest_invoice"] == sub["latest_invoice"]["id"]


async def test_renewal_declined_is_past_due(localstripe: LocalStripe, hooks: Hooks) -> None:
    customer, pm = await _customer(localstripe, GOOD)
    sub = await _subscribe(localstripe, customer, (await _price(localstripe))["id"])
    bad = await localstripe.create_card_payment_method(DECLINE)
    await localstripe.request("POST", f"/v1/payment_methods/{bad}/attach", {"customer": customer})
    await localstripe.request(
        "POST", f"/v1/subscriptions/{sub['id']}", {"default_payment_method": bad}
    )
    renewed = await _advance(localstripe, sub["id"])
    assert renewed["status"] == "past_due"
    invoice = await _invoice(localstripe, renewed["latest_invoice"])
    assert invoice["status"] == "open"
    await hooks.wait_for("invoice.payment_failed", invoice["id"])
    event = await hooks.wait_for(
        "customer.subscription.updated",
        sub["id"],
        where=lambda e: e["data"]["object"]["status"] == "past_due",
    )
    assert event["data"]["previous_attributes"]["status"] == "active"
    # Paying with the good card again brings it back.
    await localstripe.request("POST", f"/v1/invoices/{invoice['id']}/pay", {"payment_method": pm})
    assert (await localstripe.retrieve("subscriptions", sub["id"]))["status"] == "active"


async def test_renewal_needing_authentication(localstripe: LocalStripe, hooks: Hooks) -> None:
    customer, _ = await _customer(localstripe, GOOD)
    sub = await _subscribe(localstripe, customer, (await _price(localstripe))["id"])
    card = await localstripe.create_card_payment_method(THREE_D_SECURE)
    await localstripe.request("POST", f"/v1/payment_methods/{card}/attach", {"customer": customer})
    await localstripe.request(
        "POST", f"/v1/subscriptions/{sub['id']}", {"default_payment_method": card}
    )
    renewed = await _advance(localstripe, sub["id"])
    invoice = await _invoice(localstripe, renewed["latest_invoice"])
    assert invoice["status"] == "open"
    assert invoice["payment_intent"]["status"] == "requires_action"
    assert renewed["status"] == "past_due"
    await hooks.wait_for("invoice.payment_action_required", invoice["id"])
    message = await _error(localstripe.request("POST", f"/v1/invoices/{invoice['id']}/pay"))
    assert "invoice_payment_intent_requires_action" in message


async def test_trial_end_charges_and_warns_first(localstripe: LocalStripe, hooks: Hooks) -> None:
    customer, _ = await _customer(localstripe, GOOD)
    sub = await _subscribe(
        localstripe, customer, (await _price(localstripe))["id"], trial_period_days="2"
    )
    warned = await localstripe.request("POST", f"/_test/subscriptions/{sub['id']}/trial_will_end")
    assert warned["status"] == "trialing"
    await hooks.wait_for("customer.subscription.trial_will_end", sub["id"])
    ended = await _advance(localstripe, sub["id"])
    assert ended["status"] == "active"
    assert ended["current_period_start"] == sub["trial_end"]
    invoice = await _invoice(localstripe, ended["latest_invoice"])
    assert (invoice["status"], invoice["amount_paid"]) == ("paid", 1500)
    event = await hooks.wait_for("customer.subscription.updated", sub["id"])
    assert event["data"]["previous_attributes"]["status"] == "trialing"
    await asyncio.sleep(1.2)
    assert hooks.types_for(sub["id"]).count("customer.subscription.trial_will_end") == 1


async def test_trial_end_without_payment_method(localstripe: LocalStripe, hooks: Hooks) -> None:
    price = (await _price(localstripe))["id"]
    customer, _ = await _customer(localstripe, None)
    sub = await _subscribe(localstripe, customer, price, trial_period_days="7")
    ended = await _advance(localstripe, sub["id"])
    assert ended["status"] == "past_due"
    invoice = await _invoice(localstripe, ended["latest_invoice"])
    assert invoice["status"] == "open"
    assert invoice["payment_intent"]["status"] == "requires_payment_method"
    await hooks.wait_for("customer.subscription.trial_will_end", sub["id"])
    await hooks.wait_for("invoice.payment_failed", invoice["id"])

    pausing = await _subscribe(
        localstripe,
        customer,
        price,
        trial_period_days="7",
        **{"trial_settings[end_behavior][missing_payment_method]": "pause"},
    )
    paused = await _advance(localstripe, pausing["id"])
    assert paused["status"] == "paused"
    assert paused["latest_invoice"] == pausing["latest_invoice"]["id"]  # nothing billed
    await hooks.wait_for("customer.subscription.paused", pausing["id"])
    _, pm = await _customer(localstripe, GOOD)
    pm = await localstripe.create_card_payment_method(GOOD)
    await localstripe.request("POST", f"/v1/payment_methods/{pm}/attach", {"customer": customer})
    await localstripe.request(
        "POST", f"/v1/subscriptions/{pausing['id']}", {"default_payment_method": pm}
    )
    resumed = await localstripe.request("POST", f"/v1/subscriptions/{pausing['id']}/resume")
    assert resumed["status"] == "active"
    assert (await _invoice(localstripe, resumed["latest_invoice"]))["status"] == "paid"
    await hooks.wait_for("customer.subscription.resumed", pausing["id"])
    message = await _error(localstripe.request("POST", f"/v1/subscriptions/{pausing['id']}/resume"))
    assert "400" in message


async def test_cancel_at_period_end_cancels_when_advanced(
    localstripe: LocalStripe, hooks: Hooks
) -> None:
    customer, _ = await _customer(localstripe, GOOD)
    sub = await _subscribe(
        localstripe, customer, (await _price(localstripe))["id"], cancel_at_period_end="true"
    )
    assert sub["cancel_at_period_end"] is True
    ended = await _advance(localstripe, sub["id"])
    assert ended["status"] == "canceled"
    assert ended["latest_invoice"] == sub["latest_invoice"]["id"]
    await hooks.wait_for("customer.subscription.deleted", sub["id"])
    assert "400" in await _error(_advance(localstripe, sub["id"]))


@pytest.mark.parametrize(
    ("behavior", "status"),
    [("void", "void"), ("keep_as_draft", "draft"), ("mark_uncollectible", "uncollectible")],
)
async def test_paused_collection_renewal_invoice(
    localstripe: LocalStripe, hooks: Hooks, behavior: str, status: str
) -> None:
    customer, _ = await _customer(localstripe, GOOD)
    sub = await _subscribe(localstripe, customer, (await _price(localstripe))["id"])
    await localstripe.request(
        "POST", f"/v1/subscriptions/{sub['id']}", {"pause_collection[behavior]": behavior}
    )
    renewed = await _advance(localstripe, sub["id"])
    assert renewed["status"] == "active"
    assert renewed["pause_collection"]["behavior"] == behavior
    invoice = await _invoice(localstripe, renewed["latest_invoice"])
    assert (invoice["status"], invoice["payment_intent"]) == (status, None)
    if behavior != "keep_as_draft":
        kind = "invoice.voided" if behavior == "void" else "invoice.marked_uncollectible"
        await hooks.wait_for(kind, invoice["id"])


async def test_error_if_incomplete_refuses_a_declined_first_payment(
    localstripe: LocalStripe,
) -> None:
    customer, _ = await _customer(localstripe, DECLINE)
    price = (await _price(localstripe))["id"]
    message = await _error(
        _subscribe(localstripe, customer, price, payment_behavior="error_if_incomplete")
    )
    assert "402" in message
    assert "card_declined" in message
    listed = await localstripe.request("GET", "/v1/subscriptions", {"customer": customer})
    assert listed["data"] == []
