"""Two service processes against one PostgreSQL, one Redis and one localstripe.

Replicas share nothing but those: each is a real ``payment-service serve`` process with
its own ports, in-process locks and caches, as two pods behind a load balancer would be.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_webhooks_delivery import webhook_server_env
from tests.support.db import real_services_required, redis_reachable, redis_url
from tests.support.localstripe import LocalStripe
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    """A localstripe of this module's own: the replicas' reconcilers read its event history."""
    server = LocalStripe.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def replica_env(db_backend: str, database_url: str, localstripe: LocalStripe) -> dict[str, str]:
    """Settings both replicas share: PostgreSQL (several processes on one SQLite file is not
    a deployment we support), Redis for the cache and the limits, one localstripe."""
    if db_backend != "postgresql":
        pytest.skip("replicas share PostgreSQL; the embedded SQLite default is one process")
    if not redis_reachable():
        message = f"Redis at {redis_url()} is not reachable"
        if real_services_required():
            pytest.fail(f"REQUIRE_REAL_SERVICES=1 and {message}")
        pytest.skip(message)
    return webhook_server_env(database_url, localstripe, redis_url=redis_url())


@pytest.fixture
def replicas(replica_env: dict[str, str]) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with ServerProcess.start(replica_env) as a, ServerProcess.start(replica_env) as b:
        yield a, b
