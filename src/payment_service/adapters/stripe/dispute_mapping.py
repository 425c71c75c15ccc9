"""Stripe's Dispute JSON -> ``RemoteDispute`` (today's API: Stripe's own example in
tests/fixtures/stripe/fixtures3.json; localstripe's disputes come from our patch layer,
tools/localstripe_disputes.py, in the same shape).

- ``evidence``: the text fields only (file fields hold upload ids and are not mirrored);
- funds: ``balance_transactions`` holds one withdrawal (a negative amount) when the
  disputed amount was taken from the balance and one reinstatement (positive) when a won
  dispute gave it back;
- ``evidence_details.due_by`` is when evidence is due, ``submission_count`` how often it
  was submitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from payment_service.adapters.stripe.mapping import (
    StripeShapeError,
    _dict,
    _id,
    _int,
    _lookup,
    _ref,
    _str,
)
from payment_service.domain.disputes import DisputeEvidence, RemoteDispute
from payment_service.domain.states import DisputeState

Obj = Mapping[str, Any]
_DISPUTE_STATES = {state.value: state for state in DisputeState}


def _evidence(obj: object) -> DisputeEvidence:
    given = _dict(obj)
    return DisputeEvidence(
        **{name: _str(given.get(name)) for name in DisputeEvidence.field_names()}
    )


def _balance_amounts(obj: Obj) -> list[int]:
    moves = obj.get("balance_transactions")
    if not isinstance(moves, list):
        return []
    amounts = (_int(move.get("amount")) for move in moves if isinstance(move, Mapping))
    return [amount for amount in amounts if amount is not None]


def to_dispute(obj: Obj) -> RemoteDispute:
    charge = _ref(obj.get("charge"))
    if charge is None:
        raise StripeShapeError("dispute without a charge")
    details = _dict(obj.get("evidence_details"))
    amounts = _balance_amounts(obj)
    return RemoteDispute(
        stripe_id=_id(obj),
        charge=charge,
        payment_intent=_ref(obj.get("payment_intent")),
        amount=_int(obj.get("amount")) or 0,
        currency=str(obj.get("currency") or "").lower(),
        reason=_str(obj.get("reason")) or "general",
        state=_lookup(_DISPUTE_STATES, obj.get("status"), "dispute status"),
        evidence_due_by=_int(details.get("due_by")),
        submission_count=_int(details.get("submission_count")) or 0,
        payment_refundable=bool(obj.get("is_charge_refundable")),
        funds_withdrawn=any(amount < 0 for amount in amounts),
        funds_reinstated=any(amount > 0 for amount in amounts),
        created=_int(obj.get("created")) or 0,
        evidence=_evidence(obj.get("evidence")),
    )
