"""Crash points for recovery tests, switched on only by an environment variable.

``PAYMENT_TEST_FAILPOINTS=payments.create.after_stripe`` (comma-separated)
makes the process SIGKILL itself when it reaches that point, the way a power
cut or OOM kill would, so tests can prove the reconciler finishes the work.
Unset (always, outside tests), ``hit`` is a dictionary lookup and nothing else.
"""

from __future__ import annotations

import os
import signal

ENV_VAR = "PAYMENT_TEST_FAILPOINTS"
_ENABLED = frozenset(p.strip() for p in os.environ.get(ENV_VAR, "").split(",") if p.strip())


def hit(name: str) -> None:
    if name in _ENABLED:
        os.kill(os.getpid(), signal.SIGKILL)
