"""A dispute row takes Stripe's view through DISPUTE_TRANSITIONS, never back to an older
observation; funds flags only go up; a decline that wants authentication has its own reason."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from payment_service.domain.disputes import DisputeEvidence, RemoteDispute
from payment_service.domain.entities import Dispute
from payment_service.domain.errors import CardDeclined
from payment_service.domain.states import DisputeState

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
REMOTE = RemoteDispute(
    stripe_id="dp_1",
    charge="ch_1",
    payment_intent="pi_1",
    amount=900,
    currency="usd",
    reason="fraudulent",
    state=DisputeState.NEEDS_RESPONSE,
    evidence_due_by=1_800_000_000,
    submission_count=0,
    payment_refundable=False,
    funds_withdrawn=True,
    funds_reinstated=False,
    created=1_700_000_000,
)


def _opened() -> Dispute:
    dispute = Dispute.from_remote(REMOTE, payment_id="pay_1", account_id="acct_1")
    assert dispute.apply_remote(REMOTE, T0)
    return dispute


def test_a_won_dispute_is_never_reopened_by_a_late_event() -> None:
    dispute = _opened()
    won = dataclasses.replace(REMOTE, state=DisputeState.WON, funds_reinstated=True)
    assert dispute.apply_remote(won, T0 + timedelta(seconds=5))
    assert not dispute.apply_remote(REMOTE, T0 + timedelta(seconds=9))  # not allowed: final
    assert not dispute.apply_remote(REMOTE, T0)  # older
    assert (dispute.state, dispute.funds_withdrawn, dispute.funds_reinstated) == (
        DisputeState.WON,
        True,
        True,
    )
    assert not dispute.takes_evidence
    assert not dispute.is_open


def test_evidence_merges_and_is_taken_only_while_a_response_is_due() -> None:
    given = DisputeEvidence(customer_name="Ada")
    merged = given.merged(DisputeEvidence(product_description="Mug", customer_name="Ada L."))
    assert merged.given() == {"customer_name": "Ada L.", "product_description": "Mug"}
    dispute = _opened()
    assert dispute.takes_evidence
    submitted = dataclasses.replace(REMOTE, state=DisputeState.UNDER_REVIEW, submission_count=1)
    dispute.apply_remote(submitted, T0 + timedelta(seconds=1))
    assert (dispute.evidence_submitted, dispute.takes_evidence) == (True, False)


def test_a_decline_asking_for_authentication_has_its_own_reason() -> None:
    asked = CardDeclined("authenticate", code="authentication_required", payment_id="pay_1")
    declined = CardDeclined("no", code="card_declined", decline_code="generic_decline")
    assert (asked.reason, declined.reason) == ("AUTHENTICATION_REQUIRED", "CARD_DECLINED")
