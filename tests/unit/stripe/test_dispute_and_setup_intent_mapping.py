"""dispute_mapping.py and setup_intent_mapping.py read Stripe's own examples (the
``dispute`` and ``setup_intent`` objects of tests/fixtures/stripe/fixtures3.json); a test
adds to a copy what the example leaves empty (balance transactions, evidence, a due date
in the past, an error)."""

from __future__ import annotations

import pytest

from payment_service.adapters.stripe import dispute_mapping, setup_intent_mapping
from payment_service.adapters.stripe.mapping import StripeShapeError
from payment_service.domain.states import DisputeState, PaymentMethodUsage, SetupIntentState
from tests.support.stripe_fixtures import stripe_fixture


def test_stripes_dispute_example_is_read() -> None:
    remote = dispute_mapping.to_dispute(stripe_fixture("dispute"))
    assert remote.stripe_id == "dp_1Pgc71B7WZ01zgkWMevJiAUx"
    assert (remote.charge, remote.payment_intent) == ("ch_1PgafuB7WZ01zgkWXYmPNZs8", None)
    assert (remote.amount, remote.currency, remote.reason) == (1000, "usd", "general")
    assert remote.state is DisputeState.WARNING_NEEDS_RESPONSE
    assert (remote.evidence_due_by, remote.submission_count) == (1723679999, 0)
    assert remote.payment_refundable is True
    assert (remote.funds_withdrawn, remote.funds_reinstated) == (False, False)
    assert remote.evidence.given() == {}


def test_funds_evidence_and_an_expanded_charge() -> None:
    obj = stripe_fixture("dispute")
    obj["charge"] = {"id": "ch_9", "object": "charge"}
    obj["payment_intent"] = "pi_9"
    obj["status"] = "won"
    obj["balance_transactions"] = [{"amount": -1000}, {"amount": 1000}]
    obj["evidence"]["product_description"] = "A blue mug"
    obj["evidence"]["receipt"] = "file_123"  # a file: not mirrored
    obj["evidence_details"]["submission_count"] = 1
    remote = dispute_mapping.to_dispute(obj)
    assert (remote.charge, remote.payment_intent, remote.state) == (
        "ch_9",
        "pi_9",
        DisputeState.WON,
    )
    assert (remote.funds_withdrawn, remote.funds_reinstated) == (True, True)
    assert remote.evidence.given() == {"product_description": "A blue mug"}
    assert remote.submission_count == 1


@pytest.mark.parametrize(("key", "value"), [("status", "prevented_maybe"), ("charge", None)])
def test_a_dispute_that_cannot_be_read_is_refused(key: str, value: object) -> None:
    obj = stripe_fixture("dispute")
    obj[key] = value
    with pytest.raises(StripeShapeError):
        dispute_mapping.to_dispute(obj)


def test_stripes_setup_intent_example_is_read() -> None:
    remote = setup_intent_mapping.to_setup_intent(stripe_fixture("setup_intent"))
    assert remote.stripe_id == "seti_1Pgag7B7WZ01zgkWSgwGdb8Z"
    assert remote.state is SetupIntentState.REQUIRES_PAYMENT_METHOD
    assert remote.usage is PaymentMethodUsage.OFF_SESSION
    assert remote.client_secret
    assert remote.client_secret.startswith("seti_")
    assert (remote.customer, remote.payment_method, remote.last_error) == (None, None, None)


def test_a_succeeded_setup_intent_names_its_card_and_our_id() -> None:
    obj = stripe_fixture("setup_intent")
    obj.update(
        status="succeeded",
        customer="cus_1",
        payment_method={"id": "pm_1", "object": "payment_method"},
        metadata={"setup_intent_id": "setup_1"},
        next_action=None,
        last_setup_error={"code": "card_declined", "decline_code": "generic_decline"},
    )
    remote = setup_intent_mapping.to_setup_intent(obj)
    assert (remote.state, remote.customer, remote.payment_method) == (
        SetupIntentState.SUCCEEDED,
        "cus_1",
        "pm_1",
    )
    assert remote.setup_intent_id == "setup_1"
    assert remote.last_error is not None
    assert remote.last_error.decline_code == "generic_decline"
