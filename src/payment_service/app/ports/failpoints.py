"""Crash points for recovery tests, handed to the use cases by the composition root.

Production gets ``NO_FAILPOINTS`` (nothing happens); the recovery tests start
the server with points that SIGKILL the process where a power cut would.
"""

from __future__ import annotations

from typing import Protocol


class Failpoints(Protocol):
    def hit(self, name: str) -> None: ...


class _NoFailpoints:
    def hit(self, name: str) -> None:
        return None


NO_FAILPOINTS: Failpoints = _NoFailpoints()
