"""What the reconciler needs and what its repair tasks report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RepairReport:
    task: str
    repaired: int = 0
    unresolved: int = 0
    oldest_unresolved_age_s: float = 0.0
    errors: int = 0


RepairTask = Callable[[], Awaitable[RepairReport]]


class ReconcileLock(Protocol):
    def hold(self) -> AbstractAsyncContextManager[bool]:
        """Enter to try the lock: True when this replica holds it until the block ends."""
        ...


class ReconcilerMetricsSink(Protocol):
    def skipped(self) -> None: ...

    def observe(self, reports: Sequence[RepairReport]) -> None: ...
