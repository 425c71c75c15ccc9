"""Disputes patch layer on localstripe 1.15.10, which has no disputes at all.

``install()`` must run before ``localstripe_billing.install()`` (tools/localstripe_server.py does
it): it adds a ``Dispute`` resource in Stripe's current shape, Stripe's dispute endpoints, and
test-only routes that play the customer's bank (open a dispute on a charge, decide it), each
sending Stripe's ``charge.dispute.*`` events. A disputed charge refuses refunds as Stripe does.
docs/localstripe.md ("Disputes patch layer") lists what it fakes and how it differs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from localstripe.errors import UserError
from localstripe.resources import (
    Charge,
    Event,
    List,
    Refund,
    StripeObject,
    extra_apis,
    random_id,
    store,
    try_convert_to_bool,
    try_convert_to_int,
)
from localstripe.webhooks import schedule_webhook

# Stripe's text evidence fields (files are not faked).
EVIDENCE_FIELDS = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_tracking_number",
    "uncategorized_text",
)
RESPONDABLE = {"warning_needs_response": "warning_under_review", "needs_response": "under_review"}
DECIDED = ("won", "lost", "warning_closed")
REASONS = (
    "bank_cannot_process",
    "credit_not_processed",
    "customer_initiated",
    "debit_not_authorized",
    "duplicate",
    "fraudulent",
    "general",
    "incorrect_account_details",
    "insufficient_funds",
    "product_not_received",
    "product_unacceptable",
    "subscription_canceled",
    "unrecognized",
)
_ORIGINAL: dict[str, Any] = {}


def _emit(kind: str, obj: Any) -> None:
    schedule_webhook(Event(kind, obj))


def _bad(message: str, code: str | None = None) -> UserError:
    return UserError(400, message, {"code": code} if code else None)


def _no_extra(unexpected: dict[str, Any]) -> None:
    if unexpected:
        raise _bad("Unexpected " + ", ".join(unexpected))


class Dispute(StripeObject):  # type: ignore[misc]  # localstripe is untyped
    """A dispute in Stripe's current shape (``dp_…``): amount, charge, payment_intent, reason,
    status, evidence (text fields), evidence_details, is_charge_refundable, balance_transactions."""

    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge: Any, amount: int, reason: str, inquiry: bool, due_in: int) -> None:
        super().__init__()
        self.charge = charge.id
        self.payment_intent = getattr(charge, "payment_intent", None)
        self.amount = amount
        self.currency = charge.currency
        self.reason = reason
        self.status = "warning_needs_response" if inquiry else "needs_response"
        self.evidence = dict.fromkeys(EVIDENCE_FIELDS)
        self.evidence_details = {
            "due_by": int(time.time()) + due_in,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        }
        # Stripe lets an inquiry's payment be refunded, not a chargeback's.
        self.is_charge_refundable = inquiry
        self.balance_transactions: list[dict[str, Any]] = []
        self.metadata: dict[str, Any] = {}

    def _move_funds(self, sign: int, category: str) -> None:
        self.balance_transactions.append(
            {
                "id": "txn_" + random_id(24),
                "object": "balance_transaction",
                "amount": sign * self.amount,
                "currency": self.currency,
                "reporting_category": category,
                "type": "adjustment",
                "created": int(time.time()),
            }
        )

    def _decide(self, status: str) -> None:
        self.status = status
        self.evidence_details["due_by"] = None
        if status == "won" and self.balance_transactions:
            self._move_funds(+1, "dispute_reversal")
            _emit("charge.dispute.funds_reinstated", self)
        _emit("charge.dispute.closed", self)


def _dispute(id: str) -> Any:
    found = store.get("dispute:" + id)
    if found is None:
        raise UserError(404, "No such dispute: " + id, {"code": "resource_missing"})
    return found


def _disputes_of(charge_id: str) -> list[Any]:
    return [d for key, d in store.items() if key.startswith("dispute:") and d.charge == charge_id]


# --- Stripe's endpoints ---------------------------------------------------------------------
def _api_retrieve(id: str, **unexpected: Any) -> Any:
    _no_extra(unexpected)
    return _dispute(id)


def _api_update(
    id: str, evidence: Any = None, submit: Any = None, metadata: Any = None, **unexpected: Any
) -> Any:
    """``POST /v1/disputes/{id}``: evidence merged in (an empty string unsets a field);
    ``submit=true`` sends it and the dispute goes under review (Stripe does the same)."""
    _no_extra(unexpected)
    dispute = _dispute(id)
    if dispute.status not in RESPONDABLE:
        raise _bad(f"This dispute is {dispute.status} and can no longer be updated.")
    if evidence is not None:
        if type(evidence) is not dict or set(evidence) - set(EVIDENCE_FIELDS):
            raise _bad("Invalid evidence: only the text evidence fields are accepted.")
        for name, value in evidence.items():
            dispute.evidence[name] = value or None
        dispute.evidence_details["has_evidence"] = any(dispute.evidence.values())
    if type(metadata) is dict:
        dispute.metadata.update(metadata)
    if try_convert_to_bool(submit) is True:
        dispute.evidence_details["submission_count"] += 1
        dispute.status = RESPONDABLE[dispute.status]
    _emit("charge.dispute.updated", dispute)
    return dispute


def _api_close(id: str, **unexpected: Any) -> Any:
    """``POST /v1/disputes/{id}/close``: the merchant accepts the loss."""
    _no_extra(unexpected)
    dispute = _dispute(id)
    if dispute.status not in RESPONDABLE:
        raise _bad(f"This dispute is {dispute.status} and cannot be closed.")
    dispute._decide("lost" if dispute.status == "needs_response" else "warning_closed")
    return dispute


def _api_list(
    limit: Any = None,
    starting_after: Any = None,
    charge: Any = None,
    payment_intent: Any = None,
    **unexpected: Any,
) -> Any:
    _no_extra(unexpected)
    listed = List("/v1/disputes", limit=limit, starting_after=starting_after)
    listed._list = [
        d
        for key, d in store.items()
        if key.startswith("dispute:")
        and (charge is None or d.charge == charge)
        and (payment_intent is None or d.payment_intent == payment_intent)
    ]
    return listed


# --- the bank's side (test-only) ---------------------------------------------------------------
def _test_open(
    id: str,
    reason: Any = "fraudulent",
    amount: Any = None,
    inquiry: Any = None,
    due_in: Any = None,
    **unexpected: Any,
) -> Any:
    """``POST /_test/charges/{id}/dispute``: the customer's bank disputes the charge. A
    chargeback (the default) takes the funds at once (charge.dispute.created, then
    charge.dispute.funds_withdrawn); ``inquiry=true`` opens a warning_needs_response inquiry."""
    _no_extra(unexpected)
    charge = Charge._api_retrieve(id)
    if charge.status != "succeeded":
        raise _bad("Only a succeeded charge can be disputed.")
    if reason not in REASONS:
        raise _bad("Invalid reason: must be one of " + ", ".join(REASONS))
    disputed = try_convert_to_int(amount) if amount is not None else charge.amount
    seconds = try_convert_to_int(due_in) if due_in is not None else 7 * 24 * 3600
    if type(disputed) is not int or not 0 < disputed <= charge.amount or type(seconds) is not int:
        raise _bad("Invalid amount or due_in.")
    dispute = Dispute(charge, disputed, reason, try_convert_to_bool(inquiry) is True, seconds)
    _emit("charge.dispute.created", dispute)
    if dispute.status == "needs_response":
        dispute._move_funds(-1, "dispute")
        _emit("charge.dispute.funds_withdrawn", dispute)
    return dispute


def _test_decide(id: str, outcome: Any = None, **unexpected: Any) -> Any:
    """``POST /_test/disputes/{id}/decide`` with ``outcome`` won, lost or warning_closed: the
    bank's decision (won gives withdrawn funds back: charge.dispute.funds_reinstated)."""
    _no_extra(unexpected)
    dispute = _dispute(id)
    if outcome not in DECIDED:
        raise _bad("Invalid outcome: must be one of " + ", ".join(DECIDED))
    if dispute.status in DECIDED:
        raise _bad(f"This dispute is already {dispute.status}.")
    inquiry = dispute.status.startswith("warning_")
    if inquiry != (outcome == "warning_closed"):
        raise _bad(f"A {dispute.status} dispute cannot end {outcome}.")
    dispute._decide(outcome)
    return dispute


def _refund_init(self: Any, charge: Any = None, payment_intent: Any = None, **data: Any) -> None:
    """Stripe refuses to refund a charge whose dispute no longer allows it (charge_disputed)."""
    charge_id = charge
    if charge_id is None and isinstance(payment_intent, str):
        intent = store.get("payment_intent:" + payment_intent)
        latest = getattr(intent, "latest_charge", None)
        charge_id = latest.id if latest is not None else None
    for dispute in _disputes_of(charge_id) if charge_id else []:
        if not dispute.is_charge_refundable:
            raise _bad(
                f"Charge {charge_id} has been charged back; cannot issue a refund.",
                "charge_disputed",
            )
    _ORIGINAL["refund_init"](self, charge=charge, payment_intent=payment_intent, **data)


# --- installation ---------------------------------------------------------------------------
ROUTES: list[tuple[str, str, Callable[..., Any]]] = [
    ("GET", "/v1/disputes", _api_list),
    ("GET", "/v1/disputes/{id}", _api_retrieve),
    ("POST", "/v1/disputes/{id}", _api_update),
    ("POST", "/v1/disputes/{id}/close", _api_close),
    ("POST", "/_test/charges/{id}/dispute", _test_open),
    ("POST", "/_test/disputes/{id}/decide", _test_decide),
]


def install() -> None:
    """Patch localstripe; call before localstripe_billing.install()."""
    _ORIGINAL["refund_init"] = Refund.__init__
    Refund.__init__ = _refund_init
    extra_apis.extend(ROUTES)
