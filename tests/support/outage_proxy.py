"""A tiny TCP proxy on 127.0.0.1 that tests switch between up, down and stalled.

Put it between the code under test and localstripe to make Stripe unreachable
mid-test without restarting localstripe (which would lose its in-memory state)::

    proxy = OutageProxy("127.0.0.1", localstripe_port)
    await proxy.start()          # proxy.base_url -> point the gateway here
    proxy.down()                 # new connections are reset, open ones are cut
    proxy.stall()                # connections are accepted, nothing is ever answered
    proxy.up()                   # traffic flows again (stalled connections are cut)
    await proxy.close()

``proxy.stalled`` lists the request line ("POST /v1/payment_intents") of every request
held by stall(), so a test can wait until the calls it means to hang are hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
from enum import StrEnum


class ProxyMode(StrEnum):
    UP = "up"
    DOWN = "down"
    STALL = "stall"


_CHUNK = 64 * 1024


class OutageProxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self._target = (target_host, target_port)
        self._host = host
        self._server: asyncio.Server | None = None
        self._port = 0
        self._mode = ProxyMode.UP
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.accepted = 0  # connections accepted in any mode
        self.forwarded = 0  # connections piped to the target
        self.stalled: list[str] = []  # request lines held by stall(), in arrival order

    # --- lifecycle ------------------------------------------------------------------
    async def start(self) -> OutageProxy:
        self._server = await asyncio.start_server(self._handle, self._host, 0)
        self._port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._cut_all()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def mode(self) -> ProxyMode:
        return self._mode

    # --- switches -------------------------------------------------------------------
    def up(self) -> None:
        """Forward again; connections held by stall() are cut so clients see an error."""
        if self._mode is not ProxyMode.UP:
            self._cut_all()
        self._mode = ProxyMode.UP

    def down(self) -> None:
        """Reset every new connection and cut every open one (keep-alive included)."""
        self._mode = ProxyMode.DOWN
        self._cut_all()

    def stall(self) -> None:
        """Accept connections and read requests but never answer (a hung upstream)."""
        self._mode = ProxyMode.STALL
        self._cut_all()

    # --- internals ------------------------------------------------------------------
    def _cut_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.accepted += 1
        try:
            if self._mode is ProxyMode.DOWN:
                writer.transport.abort()
                return
            self._writers.add(writer)
            if self._mode is ProxyMode.STALL:
                await self._drain_forever(reader)
                return
            await self._pipe(reader, writer)
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
            self._handlers.discard(task)

    async def _drain_forever(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError, OSError, ValueError):
            first = await reader.readline()
            if first:
                self.stalled.append(" ".join(first.decode("latin-1").split()[:2]))
            while await reader.read(_CHUNK):
                pass

    def stalled_count(self, prefix: str) -> int:
        """How many requests whose line starts with ``prefix`` stall() holds or has held."""
        return sum(1 for line in self.stalled if line.startswith(prefix))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            return
        self.forwarded += 1
        self._writers.add(up_writer)
        try:
            await asyncio.gather(self._copy(reader, up_writer), self._copy(up_reader, writer))
        finally:
            self._writers.discard(up_writer)
            up_writer.transport.abort()

    @staticmethod
    async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(_CHUNK):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # Half-close: tell the other side this direction is done.
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                if sink.can_write_eof() and not sink.transport.is_closing():
                    sink.write_eof()
