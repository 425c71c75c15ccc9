"""mapping.py reads Stripe's current-API examples (tests/fixtures/stripe/fixtures3.json, through
tests.support.stripe_fixtures) and localstripe's answers."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from payment_service.adapters.stripe import mapping
from payment_service.domain.states import (
    CaptureMethod,
    PaymentState,
    RefundReason,
    RefundState,
)
from tests.support.stripe_fixtures import stripe_fixtures

RECORDED = Path(__file__).with_name("localstripe_recorded.json")


@pytest.fixture(scope="module")
def stripe_examples() -> Mapping[str, Any]:
    """Shared and read-only: copy (``copy.deepcopy`` or ``{**…}``) before changing."""
    return stripe_fixtures()


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RECORDED.read_text(encoding="utf-8"))
    return data


# --- today's API (Stripe's own examples) ---------------------------------------------------------
def test_current_api_payment_intent(stripe_examples: Mapping[str, Any]) -> None:
    pi = mapping.to_payment_intent(stripe_examples["payment_intent"])
    assert pi.stripe_id == "pi_1PgafyB7WZ01zgkWSjxsAJo3"
    assert pi.state is PaymentState.REQUIRES_PAYMENT_METHOD
    assert (pi.amount, pi.currency, pi.amount_received, pi.amount_capturable) == (1099, "usd", 0, 0)
    assert pi.capture_method is CaptureMethod.AUTOMATIC
    assert pi.client_secret == "pi_1PgafyB7WZ01zgkWSjxsAJo3_secret_Dm43xiq1k0ywrRRjDoi8y1gkM"
    assert (pi.customer, pi.payment_method, pi.latest_charge_id, pi.receipt_url) == (
        None,
        None,
        None,
        None,
    )
    assert pi.next_action_type == "type"
    assert pi.last_error is None  # the example's error has a type only
    assert pi.amount_refunded is None
    assert (pi.created, pi.canceled_at) == (1234567890, 1234567890)


def test_current_api_payment_intent_with_latest_charge_as_id_or_expanded(
    stripe_examples: Mapping[str, Any],
) -> None:
    charge = copy.deepcopy(stripe_examples["charge"])
    charge.update(
        amount=1099, amount_captured=1099, amount_refunded=99, status="succeeded", captured=True
    )
    pi_data = copy.deepcopy(stripe_examples["payment_intent"])
    pi_data.update(status="succeeded", amount_received=1099, latest_charge=charge["id"])
    by_id = mapping.to_payment_intent(pi_data)
    assert (by_id.latest_charge_id, by_id.receipt_url, by_id.amount_refunded) == (
        charge["id"],
        None,
        None,
    )
    assert by_id.amount_received == 1099

    pi_data["latest_charge"] = charge
    expanded = mapping.to_payment_intent(pi_data)
    assert expanded.latest_charge_id == charge["id"]
    assert expanded.receipt_url == charge["receipt_url"]
    assert expanded.amount_refunded == 99
    assert expanded.amount_received == 1099


def test_current_api_payment_intent_redirect_and_error() -> None:
    pi = mapping.to_payment_intent(
        {
            "id": "pi_1",
            "status": "requires_action",
            "amount": 500,
            "currency": "JPY",
            "amount_received": 0,
            "amount_capturable": 0,
            "capture_method": "automatic_async",
            "next_action": {
                "type": "redirect_to_url",
                "redirect_to_url": {"url": "https://hooks.example/3ds"},
            },
            "last_payment_error": {
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "No",
            },
            "metadata": {"payment_id": "pay_1", "n": 5},
        }
    )
    assert (pi.next_action_type, pi.next_action_url) == (
        "redirect_to_url",
        "https://hooks.example/3ds",
    )
    assert (pi.last_error_code, pi.last_error_decline_code, pi.last_error_message) == (
        "card_declined",
        "insufficient_funds",
        "No",
    )
    assert (pi.currency, pi.payment_id, pi.metadata["n"]) == ("jpy", "pay_1", "5")


def test_current_api_payment_method(stripe_examples: Mapping[str, Any]) -> None:
    pm = mapping.to_payment_method(stripe_examples["payment_method"])
    assert (pm.stripe_id, pm.type, pm.customer) == ("pm_1Pgc75B7WZ01zgkWlHVgdEGJ", "card", None)
    assert (pm.brand, pm.last4, pm.exp_month, pm.exp_year) == ("visa", "4242", 8, 2030)
    assert pm.fingerprint == "AOB934RVNwzk6xtn"
    assert pm.billing_name is None
    assert pm.metadata == {"order_id": "123456789"}


def test_current_api_customer(stripe_examples: Mapping[str, Any]) -> None:
    customer = mapping.to_customer(stripe_examples["customer"])
    assert customer.stripe_id == "cus_QXg1o8vcGmoR32"
    assert (customer.email, customer.name, customer.default_payment_method) == (None, None, None)
    assert not customer.deleted


def test_current_api_charge(stripe_examples: Mapping[str, Any]) -> None:
    charge = mapping.to_charge(stripe_examples["charge"])
    assert (charge.stripe_id, charge.amount, charge.amount_captured, charge.amount_refunded) == (
        "ch_1PgafuB7WZ01zgkWXYmPNZs8",
        100,
        0,
        0,
    )
    assert (charge.captured, charge.status, charge.payment_intent) == (False, "succeeded", None)
    assert charge.receipt_url is not None
    assert charge.receipt_url.startswith("https://")


def test_current_api_refund(stripe_examples: Mapping[str, Any]) -> None:
    refund = mapping.to_refund(stripe_examples["refund"])
    assert (refund.stripe_id, refund.amount, refund.currency) == (
        "re_1Pgc72B7WZ01zgkWqPvrRrPE",
        100,
        "usd",
    )
    assert (refund.state, refund.reason, refund.charge, refund.payment_intent) == (
        RefundState.SUCCEEDED,
        None,
        "ch_1PgafuB7WZ01zgkWXYmPNZs8",
        None,
    )
    with_reason = mapping.to_refund(
        {**stripe_examples["refund"], "reason": "duplicate", "status": "pending"}
    )
    assert (with_reason.reason, with_reason.state) == (RefundReason.DUPLICATE, RefundState.PENDING)
    stripe_reason = mapping.to_refund(
        {**stripe_examples["refund"], "reason": "expired_uncaptured_charge"}
    )
    assert stripe_reason.reason is None


def test_current_api_event(stripe_examples: Mapping[str, Any]) -> None:
    event = mapping.to_event(stripe_examples["event"])
    assert (event.stripe_id, event.type, event.created) == (
        "evt_1Pgc76B7WZ01zgkWwyRHS12y",
        "plan.created",
        1234567890,
    )
    assert (event.object_type, event.object_id) == ("plan", "price_1PgafmB7WZ01zgkW6dKueIc5")
    assert event.api_version is None
    assert event.previous_attributes is None


def test_unknown_status_is_a_shape_error(stripe_examples: Mapping[str, Any]) -> None:
    with pytest.raises(mapping.StripeShapeError):
        mapping.to_payment_intent({**stripe_examples["payment_intent"], "status": "teleported"})
    with pytest.raises(mapping.StripeShapeError):
        mapping.to_customer({"object": "customer"})


# --- localstripe (recorded answers) ---------------------------------------------------------------
def test_localstripe_payment_intent_requires_capture(recorded: dict[str, Any]) -> None:
    data = recorded["payment_intent_requires_capture"]
    assert "amount_received" not in data  # the reason for the derivation below
    pi = mapping.to_payment_intent(data)
    assert pi.state is PaymentState.REQUIRES_CAPTURE
    assert pi.capture_method is CaptureMethod.MANUAL
    assert (pi.amount_capturable, pi.amount_received, pi.amount_refunded) == (1000, 0, 0)
    assert pi.latest_charge_id == data["latest_charge"]["id"]
    assert pi.payment_id == "pay_1"


def test_localstripe_partial_capture_and_refund(recorded: dict[str, Any]) -> None:
    data = recorded["payment_intent_partially_captured_and_refunded"]
    # localstripe files the uncaptured 400 as a refund: 400 + our 100 refund.
    assert data["latest_charge"]["amount_refunded"] == 500
    pi = mapping.to_payment_intent(data)
    assert pi.state is PaymentState.SUCCEEDED
    assert (pi.amount_received, pi.amount_capturable, pi.amount_refunded) == (600, 0, 100)
    charge = mapping.to_charge(data["latest_charge"])
    assert (charge.amount_captured, charge.amount_refunded, charge.receipt_url) == (600, 100, None)


def test_localstripe_declined_and_requires_action_payment_intents(recorded: dict[str, Any]) -> None:
    base = recorded["payment_intent_requires_capture"]
    failed_charge = {
        **base["latest_charge"],
        "status": "failed",
        "captured": True,
        "failure_code": "card_declined",
    }
    declined = mapping.to_payment_intent(
        {
            **base,
            "status": "requires_payment_method",
            "capture_method": "automatic_async",
            "latest_charge": failed_charge,
            "last_payment_error": {
                "charge": failed_charge["id"],
                "code": "card_declined",
                "message": "Declined.",
            },
        }
    )
    assert declined.state is PaymentState.REQUIRES_PAYMENT_METHOD
    assert declined.capture_method is CaptureMethod.AUTOMATIC
    assert (
        declined.amount_received,
        declined.last_error_code,
        declined.last_error_decline_code,
    ) == (
        0,
        "card_declined",
        None,
    )
    action = mapping.to_payment_intent(
        {
            **base,
            "status": "requires_action",
            "latest_charge": None,
            "charges": {"data": [], "object": "list"},
            "next_action": {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect"},
            },
        }
    )
    assert (action.state, action.next_action_type, action.next_action_url) == (
        PaymentState.REQUIRES_ACTION,
        "use_stripe_sdk",
        None,
    )
    assert (action.latest_charge_id, action.amount_capturable) == (None, 0)


def test_localstripe_charges_list_when_latest_charge_is_an_id(recorded: dict[str, Any]) -> None:
    data = copy.deepcopy(recorded["payment_intent_partially_captured_and_refunded"])
    charge = data["latest_charge"]
    data["latest_charge"] = charge["id"]
    data["charges"] = {"object": "list", "data": [charge]}
    pi = mapping.to_payment_intent(data)
    assert (pi.latest_charge_id, pi.amount_received) == (charge["id"], 600)


def test_localstripe_customer_payment_method_refund_event(recorded: dict[str, Any]) -> None:
    customer = mapping.to_customer(recorded["customer"])
    assert (customer.email, customer.metadata) == ("a@example.com", {"account_id": "acct_1"})
    pm = mapping.to_payment_method(recorded["payment_method"])
    assert (pm.type, pm.brand, pm.last4, pm.exp_month, pm.exp_year, pm.billing_name) == (
        "card",
        "visa",
        "4242",
        12,
        2034,
        None,
    )
    refund = mapping.to_refund(recorded["refund"])
    assert (refund.amount, refund.state, refund.reason, refund.failure_reason) == (
        100,
        RefundState.SUCCEEDED,
        None,
        None,
    )
    assert refund.payment_intent == recorded["payment_intent_requires_capture"]["id"]
    event = mapping.to_event(recorded["event"])
    assert (event.type, event.api_version, event.object_type) == (
        "payment_intent.succeeded",
        "2017-08-15",
        "payment_intent",
    )
