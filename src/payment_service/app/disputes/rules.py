"""The dispute capability's settings, queries and small shared rules."""

from __future__ import annotations

from dataclasses import dataclass, field

from payment_service.app.common.validation import Violations
from payment_service.domain.disputes import DisputeEvidence
from payment_service.domain.pagination import PageRequest
from payment_service.domain.states import DisputeState

MAX_EVIDENCE_LENGTH = 4000  # per text field; Stripe's whole limit is far above 18 of these


@dataclass(frozen=True, slots=True)
class DisputeRules:
    stuck_after_s: float = 300.0  # the reconciler re-reads open disputes not read since
    max_refresh_interval_s: float = 6 * 3600.0
    batch_size: int = 100
    due_soon_s: float = 72 * 3600.0  # "evidence due soon" for the gauge


@dataclass(frozen=True, slots=True)
class ListDisputes:
    page: PageRequest
    account_id: str = ""
    payment_id: str = ""
    states: frozenset[DisputeState] = field(default_factory=frozenset)


def check_evidence(evidence: DisputeEvidence, submit: bool, check: Violations) -> None:
    """Every given field is text of at most MAX_EVIDENCE_LENGTH; something must be asked."""
    given = evidence.given()
    for name, value in given.items():
        check.free_text(value, f"evidence.{name}", MAX_EVIDENCE_LENGTH)
    if not given and not submit:
        check.add("evidence", "give at least one evidence field, or submit")
