"""In-memory outbox and cursor (typed fakes of the ports), a private nats-server for outages."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from payment_service.app.ports.event_stream import OutboxEvent


class MemoryOutbox:
    """Implements OutboxSource: rows appended in position order, all safe to read."""

    def __init__(self) -> None:
        self.rows: list[OutboxEvent] = []
        self.reads = 0
        self._new = asyncio.Event()

    def add(
        self,
        type_: str = "payment.succeeded",
        *,
        account_id: str = "acct_a",
        object_id: str | None = None,
        gap: int = 0,
    ) -> OutboxEvent:
        position = (self.rows[-1].position if self.rows else 0) + 1 + gap
        event = OutboxEvent(
            position=position,
            event_id=f"evt_{secrets.token_hex(8)}",
            type=type_,
            object_type=type_.partition(".")[0],
            object_id=object_id or f"obj_{position}",
            account_id=account_id,
            create_time=datetime.now(UTC),
            snapshot_type="",
            snapshot=f'{{"position": {position}}}'.encode(),
            trace_parent=f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01",
        )
        self.rows.append(event)
        self._new.set()
        return event

    async def after(self, position: int, limit: int) -> list[OutboxEvent]:
        self.reads += 1
        return [e for e in self.rows if e.position > position][:limit]

    async def wait_for_new(self, timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                await self._new.wait()
        except TimeoutError:
            return
        self._new.clear()


class MemoryCursor:
    """Implements RelayCursor."""

    def __init__(self, position: int = 0) -> None:
        self.position = position
        self.saves: list[int] = []

    async def load(self) -> int:
        return self.position

    async def save(self, position: int) -> None:
        self.saves.append(position)
        self.position = position


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateNats:
    """A nats-server with JetStream on a free port and its own store: stop() is an outage,
    start() brings it back on the same port with the stream as it was."""

    def __init__(self, store: Path) -> None:
        binary = shutil.which("nats-server")
        if binary is None:
            raise RuntimeError("nats-server is not installed")
        self._binary = binary
        self._store = store
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        command = [self._binary, "-a", "127.0.0.1", "-p", str(self.port), "-js"]
        self._process = subprocess.Popen(
            [*command, "-sd", str(self._store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)
