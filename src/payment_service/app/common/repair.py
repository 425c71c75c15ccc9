"""The tally a reconciler task keeps while it works: repaired, errors, what is left."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payment_service.app.ports.reconcile import RepairReport


@dataclass
class RepairTally:
    task: str
    now: datetime
    repaired: int = 0
    errors: int = 0
    unresolved_since: list[datetime] = field(default_factory=list)

    def unresolved(self, since: datetime) -> None:
        """One object still not settled, waiting since ``since``."""
        self.unresolved_since.append(since)

    def report(self) -> RepairReport:
        oldest = min(self.unresolved_since, default=self.now)
        return RepairReport(
            task=self.task,
            repaired=self.repaired,
            unresolved=len(self.unresolved_since),
            oldest_unresolved_age_s=max((self.now - oldest).total_seconds(), 0.0),
            errors=self.errors,
        )
