"""tools/localstripe_saved_cards.py and tools/localstripe_disputes.py over HTTP: an off-session
charge that needs authentication, a SetupIntent that saves a 3-D Secure card, and a dispute
opened, answered and decided, with the refusals Stripe gives."""

from __future__ import annotations

import pytest

from tests.support.localstripe import LocalStripe, LocalStripeError

THREE_D_SECURE = "4000002760003184"


async def _customer(localstripe: LocalStripe) -> str:
    customer = await localstripe.request("POST", "/v1/customers", {})
    return str(customer["id"])


async def test_an_off_session_charge_that_needs_authentication_is_recovered_on_session(
    localstripe: LocalStripe,
) -> None:
    customer = await _customer(localstripe)
    pm = await localstripe.create_card_payment_method(THREE_D_SECURE)
    with pytest.raises(LocalStripeError, match="402") as refused:
        await localstripe.request(
            "POST",
            "/v1/payment_intents",
            {
                "amount": "900",
                "currency": "usd",
                "customer": customer,
                "payment_method": pm,
                "confirm": "true",
                "off_session": "true",
            },
        )
    assert '"code": "authentication_required"' in str(refused.value)
    [pi] = [
        p for p in await localstripe.list_objects("payment_intents") if p["customer"] == customer
    ]
    assert pi["status"] == "requires_payment_method"
    assert pi["last_payment_error"]["payment_method"]["id"] == pm

    await localstripe.request("POST", f"/v1/payment_intents/{pi['id']}", {"payment_method": pm})
    confirmed = await localstripe.request("POST", f"/v1/payment_intents/{pi['id']}/confirm")
    assert confirmed["status"] == "requires_action"
    assert confirmed["last_payment_error"] is None
    assert (await localstripe.authenticate(pi["id"]))["status"] == "succeeded"


async def test_a_setup_intent_saves_a_card_after_authentication(localstripe: LocalStripe) -> None:
    customer = await _customer(localstripe)
    seti = await localstripe.request(
        "POST", "/v1/setup_intents", {"customer": customer, "usage": "off_session"}
    )
    pm = await localstripe.create_card_payment_method(THREE_D_SECURE)
    assert (await localstripe.confirm_setup_intent(seti["id"], pm))["status"] == "requires_action"
    assert (await localstripe.authenticate_setup_intent(seti["id"]))["status"] == "succeeded"
    assert (await localstripe.retrieve("payment_methods", pm))["customer"] == customer


async def test_a_dispute_is_opened_answered_and_won(localstripe: LocalStripe) -> None:
    pm = await localstripe.create_card_payment_method()
    pi = await localstripe.request(
        "POST",
        "/v1/payment_intents",
        {"amount": "1200", "currency": "usd", "payment_method": pm, "confirm": "true"},
    )
    charge = pi["latest_charge"]["id"]
    dispute = await localstripe.open_dispute(charge, reason="product_not_received")
    assert (dispute["status"], dispute["is_charge_refundable"]) == ("needs_response", False)
    assert [t["amount"] for t in dispute["balance_transactions"]] == [-1200]
    with pytest.raises(LocalStripeError, match="charge_disputed"):
        await localstripe.request("POST", "/v1/refunds", {"payment_intent": pi["id"]})

    answered = await localstripe.request(
        "POST",
        f"/v1/disputes/{dispute['id']}",
        {"evidence[product_description]": "A blue mug", "submit": "true"},
    )
    assert answered["status"] == "under_review"
    assert answered["evidence"]["product_description"] == "A blue mug"
    assert answered["evidence_details"]["submission_count"] == 1
    with pytest.raises(LocalStripeError, match="400"):
        await localstripe.request("POST", f"/v1/disputes/{dispute['id']}/close")

    won = await localstripe.decide_dispute(dispute["id"], "won")
    assert won["status"] == "won"
    assert [t["amount"] for t in won["balance_transactions"]] == [-1200, 1200]
    types = [
        e["type"] for e in await localstripe.list_objects("events", type="charge.dispute.closed")
    ]
    assert types


async def test_an_accepted_dispute_is_lost(localstripe: LocalStripe) -> None:
    pm = await localstripe.create_card_payment_method()
    pi = await localstripe.request(
        "POST",
        "/v1/payment_intents",
        {"amount": "500", "currency": "eur", "payment_method": pm, "confirm": "true"},
    )
    dispute = await localstripe.open_dispute(pi["latest_charge"]["id"])
    closed = await localstripe.request("POST", f"/v1/disputes/{dispute['id']}/close")
    assert closed["status"] == "lost"
    assert (await localstripe.retrieve("disputes", dispute["id"]))["status"] == "lost"


async def test_payment_intents_are_listed_by_customer(localstripe: LocalStripe) -> None:
    ours, other = await _customer(localstripe), await _customer(localstripe)
    for customer in (ours, ours, other):
        await localstripe.request(
            "POST",
            "/v1/payment_intents",
            {"amount": "700", "currency": "usd", "customer": customer},
        )

    listed = await localstripe.request("GET", "/v1/payment_intents", {"customer": ours})

    assert [pi["customer"] for pi in listed["data"]] == [ours, ours]
