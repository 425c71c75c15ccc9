"""Private dependencies for the chaos tests: each test gets its own PostgreSQL (migrated),
Redis and localstripe, so stopping one (or reading every object of it) touches nothing
another test uses. Missing binaries skip the tests, or fail them under
REQUIRE_REAL_SERVICES=1 (as CI runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.localstripe import LocalStripe
from tests.support.private_servers import (  # noqa: F401  (shared fixtures)
    private_postgres,
    private_redis,
)
from tests.support.server import REPO_ROOT


@pytest.fixture(scope="session", autouse=True)
def _servers_run_this_checkout() -> None:
    """The server subprocesses must import this checkout's code, not another installed copy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    found = subprocess.run(
        [sys.executable, "-c", "import payment_service; print(payment_service.__file__)"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found).resolve().is_relative_to(REPO_ROOT), (
        f"server processes would run {found}, not {REPO_ROOT}: set PYTHONPATH"
    )


@pytest.fixture
def private_localstripe() -> Iterator[LocalStripe]:
    """Stripe for this test alone: its totals and its event history are this test's."""
    server = LocalStripe.start()
    try:
        yield server
    finally:
        server.stop()
