"""Pipelined JetStream publishes whose acknowledgements come back as futures.

nats-py's own ``publish_async`` loses a refused publish (its reply handler raises
instead of failing the future, so the caller waits out its timeout); this is the
same protocol, small: one reply inbox, messages written in call order (so the
server sees them in order), each reply a PubAck or an error.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg

WRONG_LAST_SEQUENCE = 10071


@dataclass(frozen=True, slots=True)
class Ack:
    seq: int
    duplicate: bool


class PublishRefused(Exception):
    def __init__(self, description: str, *, code: int = 0, err_code: int = 0) -> None:
        super().__init__(f"JetStream refused the publish: {description} ({code}/{err_code})")
        self.code = code
        self.err_code = err_code


class AckInbox:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._prefix: str | None = None
        self._tokens = itertools.count(1)
        self._futures: dict[str, asyncio.Future[Ack]] = {}

    async def publish(
        self, subject: str, payload: bytes, headers: dict[str, str]
    ) -> asyncio.Future[Ack]:
        """Write the message now; the future completes with its PubAck or PublishRefused."""
        if self._prefix is None:
            prefix = self._client.new_inbox()
            await self._client.subscribe(f"{prefix}.*", cb=self._on_reply)
            self._prefix = prefix
        token = str(next(self._tokens))
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._futures[token] = future
        future.add_done_callback(lambda _: self._futures.pop(token, None))
        await self._client.publish(
            subject, payload, reply=f"{self._prefix}.{token}", headers=headers
        )
        return future

    async def _on_reply(self, msg: Msg) -> None:
        future = self._futures.get(msg.subject.rpartition(".")[2])
        if future is None or future.done():
            return
        status = (msg.headers or {}).get("Status")
        if status == "503":
            future.set_exception(PublishRefused("no stream listens on the subject", code=503))
            return
        try:
            reply = json.loads(msg.data)
        except ValueError:
            future.set_exception(PublishRefused(f"unreadable reply {msg.data[:80]!r}"))
            return
        error = reply.get("error")
        if error is not None:
            future.set_exception(
                PublishRefused(
                    str(error.get("description", "")),
                    code=int(error.get("code", 0)),
                    err_code=int(error.get("err_code", 0)),
                )
            )
            return
        future.set_result(Ack(int(reply["seq"]), bool(reply.get("duplicate", False))))
