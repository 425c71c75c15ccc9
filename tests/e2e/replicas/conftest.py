"""Two service processes against one PostgreSQL, one Redis, one localstripe (and one NATS).

Replicas share nothing but those: each is a real ``payment-service serve`` process with
its own ports, in-process locks and caches, as two pods behind a load balancer would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

import nats
import pytest
from nats.js.errors import NotFoundError

from tests.e2e.test_webhooks_delivery import webhook_server_env
from tests.support.db import (
    real_services_required,
    record_backend_used,
    redis_reachable,
    redis_url,
)
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


def nats_url() -> str:
    return os.environ.get("TEST_NATS_URL") or "nats://127.0.0.1:4222"


@dataclass(frozen=True)
class NatsStream:
    """This test's own JetStream stream and subject prefix on the shared NATS."""

    url: str
    name: str
    prefix: str

    def env(self) -> dict[str, str]:
        return {
            "PAYMENT_NATS_URL": self.url,
            "PAYMENT_NATS_STREAM": self.name,
            "PAYMENT_NATS_SUBJECT_PREFIX": self.prefix,
            "PAYMENT_NATS_STREAM_STORAGE": "memory",
        }


@pytest.fixture
def nats_stream() -> Iterator[NatsStream]:
    """Skipped when NATS is not reachable (failed under REQUIRE_REAL_SERVICES=1); the
    stream is deleted afterwards."""
    url = nats_url()
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 4222), 1):
            pass
    except OSError as error:
        message = f"NATS at {url} is not reachable: {error!r}"
        if real_services_required():
            pytest.fail(f"REQUIRE_REAL_SERVICES=1 and {message}")
        pytest.skip(message)
    record_backend_used("nats", url)
    token = secrets.token_hex(4)
    stream = NatsStream(url, f"TEST_REPLICAS_{token}", f"test_{token}.events")
    yield stream

    async def delete() -> None:
        client = await nats.connect(url, connect_timeout=2)
        try:
            with contextlib.suppress(NotFoundError):
                await client.jetstream().delete_stream(stream.name)
        finally:
            await client.close()

    asyncio.run(delete())


@pytest.fixture
def nats_replica_env(replica_env: dict[str, str], nats_stream: NatsStream) -> dict[str, str]:
    return {**replica_env, **nats_stream.env()}
