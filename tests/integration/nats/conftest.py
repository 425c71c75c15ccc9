"""The real NATS JetStream (TEST_NATS_URL, default nats://127.0.0.1:4222): each test gets its
own stream and subject prefix, deleted afterwards. Unreachable: skipped, or failed under
REQUIRE_REAL_SERVICES=1."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlparse

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from payment_service.adapters.nats.stream import StreamLimits, StreamSettings, ensure_stream
from tests.integration.nats.support import PrivateNats
from tests.support.db import real_services_required, record_backend_used

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


def nats_url() -> str:
    return os.environ.get("TEST_NATS_URL") or DEFAULT_NATS_URL


def _unreachable(reason: str) -> None:
    message = f"NATS at {nats_url()} is not reachable: {reason}"
    if real_services_required():
        pytest.fail(f"REQUIRE_REAL_SERVICES=1 and {message}")
    pytest.skip(message)


@pytest_asyncio.fixture(loop_scope="session")
async def nats_client() -> AsyncIterator[Client]:
    parsed = urlparse(nats_url())
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 4222), 1):
            pass
    except OSError as error:
        _unreachable(repr(error))
    client = await nats.connect(nats_url(), connect_timeout=2, max_reconnect_attempts=5)
    record_backend_used("nats", nats_url())
    yield client
    await client.drain()


@pytest.fixture
def stream_settings() -> StreamSettings:
    token = secrets.token_hex(4)
    return StreamSettings(
        name=f"TEST_EVENTS_{token}",
        subject_prefix=f"test_{token}.events",
        limits=StreamLimits(storage="memory", duplicate_window_s=60.0),
    )


@pytest_asyncio.fixture(loop_scope="session")
async def js(
    nats_client: Client, stream_settings: StreamSettings
) -> AsyncIterator[JetStreamContext]:
    context = nats_client.jetstream(timeout=5)
    await ensure_stream(context, stream_settings)
    yield context
    with contextlib.suppress(NotFoundError):
        await context.delete_stream(stream_settings.name)


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[PrivateNats]:
    try:
        server = PrivateNats(tmp_path / "jetstream")
    except RuntimeError as error:
        if real_services_required():
            pytest.fail(f"REQUIRE_REAL_SERVICES=1 and {error}")
        pytest.skip(str(error))
    yield server
    server.stop()
