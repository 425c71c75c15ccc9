"""Crash points for recovery tests, switched on only by ``PAYMENT_TEST_FAILPOINTS``.

``PAYMENT_TEST_FAILPOINTS=payments.create.after_stripe`` (comma-separated) makes
the process SIGKILL itself when a use case reaches that point, the way a power
cut or OOM kill would, so tests can prove the reconciler finishes the work.
Unset (always, outside tests), the use cases get ``NO_FAILPOINTS``.
"""

from __future__ import annotations

import os
import signal

from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.config import Settings


class SigkillFailpoints:
    def __init__(self, enabled: frozenset[str]) -> None:
        self._enabled = enabled

    def hit(self, name: str) -> None:
        if name in self._enabled:
            os.kill(os.getpid(), signal.SIGKILL)


def failpoints_from(settings: Settings) -> Failpoints:
    enabled = frozenset(p.strip() for p in settings.test_failpoints.split(",") if p.strip())
    return SigkillFailpoints(enabled) if enabled else NO_FAILPOINTS
